"""Telling Nova about ports (neutron/notifiers/nova.py): ``os-server-external-events``.

Nova's libvirt driver waits for ``network-vif-plugged`` before it finishes a boot; Neutron
sends it when the VM's port goes ``ACTIVE``. It logs in to Keystone with the ``[nova]``
credentials of neutron.conf, finds the compute endpoint of ``endpoint_type`` (public) in
``region_name``, and posts the event. Failures are logged, never raised: the port stays
active whatever Nova answers.
"""

from __future__ import annotations

from typing import Any

import httpx

from labkit.sim.neutron.config import NeutronConf


class NovaNotifier:
    def __init__(self, conf: NeutronConf, http: httpx.Client, log: Any) -> None:
        self.conf = conf
        self.http = http
        self.log = log

    def close(self) -> None:
        self.http.close()

    def _login(self) -> tuple[str, list[dict[str, Any]]]:
        conf = self.conf
        url = conf.nova_auth_url.rstrip("/")
        url = url if url.endswith("/v3") else f"{url}/v3"
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": conf.nova_username,
                            "password": conf.nova_password,
                            "domain": {"name": conf.nova_user_domain_name},
                        }
                    },
                },
                "scope": {
                    "project": {
                        "name": conf.nova_project_name,
                        "domain": {"name": conf.nova_project_domain_name},
                    }
                },
            }
        }
        response = self.http.post(f"{url}/auth/tokens", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"Keystone answered {response.status_code} for the nova user")
        token = response.headers.get("x-subject-token", "")
        return token, list(response.json().get("token", {}).get("catalog") or [])

    def _endpoint(self, catalog: list[dict[str, Any]]) -> str:
        interface = self.conf.nova_endpoint_type.removesuffix("URL") or "public"
        region = self.conf.nova_region_name
        for service in catalog:
            if service.get("type") != "compute":
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") != interface:
                    continue
                if region and region not in (endpoint.get("region_id"), endpoint.get("region")):
                    continue
                return str(endpoint["url"]).rstrip("/")
        where = f" in {region} region" if region else ""
        raise RuntimeError(f"{interface} endpoint for compute service{where} not found")

    def send(self, name: str, server_uuid: str, tag: str, status: str) -> None:
        event = {"server_uuid": server_uuid, "name": name, "status": status, "tag": tag}
        if not self.conf.nova_auth_url:
            self.log.warning("Not notifying Nova of %s: [nova] auth_url is not set", event)
            return
        try:
            token, catalog = self._login()
            endpoint = self._endpoint(catalog)
            response = self.http.post(
                f"{endpoint}/os-server-external-events",
                json={"events": [event]},
                headers={"X-Auth-Token": token},
            )
        except (httpx.HTTPError, RuntimeError, ValueError) as exc:
            self.log.error("Failed to notify nova on events: %s: %s", [event], exc)
            return
        if response.status_code in (200, 207):
            self.log.info("Nova event response: %s", response.text[:300])
        else:
            self.log.warning(
                "Nova event: %s returned with failed status %s", event, response.status_code
            )
