"""labkit's client for the sim's ``/_sim`` control API (health, hosts, steps, logs, trace,
the wire)."""

from __future__ import annotations

from typing import Any

import httpx

from labkit.errors import SimError, SimNotFound, SimNotRunning


class SimClient:
    def __init__(self, base_url: str, state_dir: str = "", timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.state_dir = state_dir
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"/_sim{path}", **kwargs)
        except httpx.TransportError:
            raise SimNotRunning(self.base_url, self.state_dir) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("error") or response.text
            except ValueError:
                detail = response.text
            # 404 is its own type: callers expecting absence (a file not staged yet) catch it.
            error = SimNotFound if response.status_code == 404 else SimError
            raise error(f"sim control API {method} {path}: {response.status_code} {detail}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def hosts(self) -> dict[str, Any]:
        return dict(self._call("GET", "/hosts"))

    def wire(self) -> dict[str, Any]:
        """The gateway into the guests (``gateway.host``/``port``/``router``), the endpoints
        on the provider network and each host's firewall (``iptables -S`` lines)."""
        return dict(self._call("GET", "/wire"))

    def wire_http(
        self,
        source: str,
        path: str,
        method: str = "GET",
        destination: str = "169.254.169.254",
        port: int = 80,
        headers: dict[str, str] | None = None,
        body: str = "",
        network_id: str | None = None,
    ) -> dict[str, Any]:
        """An HTTP request on the sim's wire from ``source``, as a guest with that address
        sends it (the metadata service by default): ``{"ok", "status", "headers", "body",
        "body_base64"}``, or ``{"ok": False, "verdict", "error"}`` without a connection."""
        request: dict[str, Any] = {
            "source": source,
            "path": path,
            "method": method,
            "destination": destination,
            "port": port,
            "headers": headers or {},
            "body": body,
        }
        if network_id:
            request["network_id"] = network_id
        return dict(self._call("POST", "/wire/http", json=request))

    def file(self, host: str, path: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/hosts/{host}/file", params={"path": path}))

    def step(
        self,
        host: str,
        step: dict[str, Any],
        mode: str,
        secrets: dict[str, str],
        changed_paths: set[str],
    ) -> dict[str, Any]:
        return dict(
            self._call(
                "POST",
                f"/hosts/{host}/steps",
                json={
                    "step": step,
                    "mode": mode,
                    "secrets": secrets,
                    "changed_paths": sorted(changed_paths),
                },
            )
        )

    def service(self, host: str, name: str, action: str) -> dict[str, Any]:
        try:
            response = self._http.post(f"/_sim/hosts/{host}/services/{name}/{action}")
        except httpx.TransportError:
            raise SimNotRunning(self.base_url, self.state_dir) from None
        if response.status_code == 404:
            raise SimNotFound(f"sim control API: {response.json().get('error', response.text)}")
        # 409 carries the service's own failure text (ok: false), as `service X start` prints
        return dict(response.json())

    def trace(
        self,
        request_id: str | None = None,
        after: int | None = None,
        global_request_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        if request_id:
            params["request_id"] = request_id
        if global_request_id:
            params["global_request_id"] = global_request_id
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        return list(self._call("GET", "/trace", params=params)["events"])

    def advance_clock(self, seconds: int) -> str:
        """Let sim time pass in deterministic mode; returns the new sim time."""
        return str(self._call("POST", "/clock/advance", params={"seconds": seconds})["sim_time"])

    def hold(self, method: str) -> None:
        """Keep the bus's messages of one RPC method queued until :meth:`release`."""
        self._call("POST", "/bus/hold", params={"method": method})

    def release(self, method: str) -> None:
        self._call("POST", "/bus/release", params={"method": method})

    def quiesce(self, timeout: float = 30.0) -> bool:
        """Wait until the sim's background work (messages on its bus) is done."""
        try:
            response = self._http.post(
                "/_sim/quiesce", params={"timeout": timeout}, timeout=timeout + 10
            )
        except httpx.TransportError:
            raise SimNotRunning(self.base_url, self.state_dir) from None
        return bool(response.json().get("idle"))

    def log(self, service: str, tail: int = 50) -> list[str]:
        return list(self._call("GET", f"/logs/{service}", params={"tail": tail})["lines"])
