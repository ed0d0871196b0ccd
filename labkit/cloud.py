"""How clients reach a lab's cloud: openrc files, clouds.yaml, openstacksdk connections.

Two ways the Install Guide and the seed talk give the ``openstack`` CLI its credentials:
an *openrc* file of ``export OS_...`` lines you ``source``, or a *clouds.yaml* entry you name
with ``--os-cloud``. labkit writes both for every lab, with the entries ``lab-admin`` and
``lab-demo``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

USERS = ("admin", "demo")


@dataclass(frozen=True)
class Credentials:
    auth_url: str
    username: str
    password: str
    project: str
    region: str = "RegionOne"
    user_domain: str = "Default"
    project_domain: str = "Default"

    def openrc(self) -> str:
        """The export lines of admin-openrc / demo-openrc (Install Guide and seed)."""
        return (
            "\n".join(
                [
                    f"export OS_AUTH_URL={self.auth_url}",
                    f"export OS_PROJECT_NAME={self.project}",
                    f"export OS_USERNAME={self.username}",
                    f"export OS_PASSWORD={self.password}",
                    f"export OS_USER_DOMAIN_NAME={self.user_domain}",
                    f"export OS_PROJECT_DOMAIN_NAME={self.project_domain}",
                    "export OS_IDENTITY_API_VERSION=3",
                    f"export OS_REGION_NAME={self.region}",
                ]
            )
            + "\n"
        )

    def cloud_entry(self) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": self.auth_url,
                "username": self.username,
                "password": self.password,
                "project_name": self.project,
                "user_domain_name": self.user_domain,
                "project_domain_name": self.project_domain,
            },
            "region_name": self.region,
            "identity_api_version": 3,
            "interface": "public",
        }

    def connect(self) -> Any:
        import openstack

        return openstack.connect(
            auth_url=self.auth_url,
            username=self.username,
            password=self.password,
            project_name=self.project,
            user_domain_name=self.user_domain,
            project_domain_name=self.project_domain,
            region_name=self.region,
            identity_api_version="3",
            interface="public",
            load_yaml_config=False,
            load_envvars=False,
            app_name="labkit",
            # uwsgi (Keystone, Placement, Nova API on real hosts) may close an idle
            # keep-alive connection just as the client reuses it; retry such resets.
            connect_retries=3,
        )


def clouds_yaml(entries: dict[str, Credentials]) -> str:
    return yaml.safe_dump(
        {"clouds": {name: c.cloud_entry() for name, c in entries.items()}}, sort_keys=False
    )


def write_clouds_yaml(path: Path, entries: dict[str, Credentials]) -> Path:
    """Write (0600: it holds passwords) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# Written by labkit. Use it with:\n"
            f"#   export OS_CLIENT_CONFIG_FILE={path}\n"
            "#   openstack --os-cloud lab-admin token issue\n"
        )
        handle.write(clouds_yaml(entries))
    return path


def cli_environment(clouds_yaml_path: Path, cloud: str) -> dict[str, str]:
    """Environment variables that point the ``openstack`` CLI at a clouds.yaml entry."""
    return {"OS_CLIENT_CONFIG_FILE": str(clouds_yaml_path), "OS_CLOUD": cloud}
