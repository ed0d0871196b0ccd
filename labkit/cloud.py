"""How clients reach a lab's cloud: openrc files, clouds.yaml, openstacksdk connections.

Two ways the Install Guide and the seed talk give the ``openstack`` CLI its credentials:
an *openrc* file of ``export OS_...`` lines you ``source``, or a *clouds.yaml* entry you name
with ``--os-cloud``. labkit writes both for every lab, with the entries ``lab-admin`` and
``lab-demo``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from openstack.connection import Connection

USERS = ("admin", "demo")
# keystoneauth's generic password plugin logs this warning when GET auth_url fails, then
# falls back to the version in the URL (our lab URLs end in /v3/).
_DISCOVERY_LOGGER = "keystoneauth.identity.generic.base"
_DISCOVERY_WARNING = "Failed to discover available identity versions"


class _LabDiscoveryFilter(logging.Filter):
    """Drops keystoneauth's discovery warning for the auth URLs of labs labkit connects to.

    Before Keystone is installed the sim answers 503, so the warning lands on stderr in the
    notebook, ahead of the error that says the same thing better (and that ``lab.explain``
    explains). Warnings about any other cloud's URL pass through untouched.
    """

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        about_a_lab = bool(args) and args[0] in self.urls
        return not (about_a_lab and str(record.msg).startswith(_DISCOVERY_WARNING))


_lab_discovery = _LabDiscoveryFilter()


def _quiet_discovery_warning(auth_url: str) -> None:
    logger = logging.getLogger(_DISCOVERY_LOGGER)
    if _lab_discovery not in logger.filters:
        logger.addFilter(_lab_discovery)
    _lab_discovery.urls.add(auth_url)


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

    def connect(self) -> Connection:
        import openstack

        _quiet_discovery_warning(self.auth_url)
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


def put_cli_on_path() -> None:
    """Make ``!openstack`` in a notebook find the CLI installed next to this Python, and keep
    its tables whole.

    A kernel started from the venv's python (JupyterLab, nbval, papermill) does not have the
    venv's bin/ on PATH unless the venv was activated. The folder is added when no
    ``openstack`` or no ``labkit`` is found at all, so a CLI the learner put on PATH
    themselves still wins.
    ``!`` runs commands on an 80-column pty, where cliff would wrap tokens and URLs
    mid-word; a wide CLIFF_MAX_TERM_WIDTH (unless already set) keeps them on one line.
    """
    os.environ.setdefault("CLIFF_MAX_TERM_WIDTH", "400")
    bin_dir = Path(sys.executable).parent
    missing = [c for c in ("openstack", "labkit") if shutil.which(c) is None]
    if missing and all(shutil.which(c, path=str(bin_dir)) for c in missing):
        path = os.environ.get("PATH", "")
        # first when the CLI itself is missing; after the rest when only `labkit` is, so an
        # `openstack` already on PATH (the learner's, or the tests' fast shim) still wins
        first = "openstack" in missing
        os.environ["PATH"] = (
            str(bin_dir) + os.pathsep + path if first else path + os.pathsep + str(bin_dir)
        )
