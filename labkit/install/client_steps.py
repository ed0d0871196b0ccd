"""Steps that run from labkit through the cloud's own API, on every env kind alike:
Keystone objects (:class:`~labkit.install.steps.IdentityObjects`) and a verification image
(:class:`~labkit.install.steps.Image`). Runners hand them here with an admin connection."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from labkit.install import identity, networking
from labkit.install import steps as st

CLIENT_STEPS: tuple[type[st.Step], ...] = (
    st.IdentityObjects,
    st.Image,
    st.Flavors,
    st.ServicesUp,
    networking.ProviderNetwork,
)


def is_client_step(step: st.Step) -> bool:
    return isinstance(step, CLIENT_STEPS)


def _identity_spec(step: st.IdentityObjects, secrets: dict[str, str]) -> dict[str, Any]:
    spec = step.to_dict()
    spec["users"] = [(n, st.fill_secrets(p, secrets)) for n, p in step.users]
    return spec


def _active_image(conn: Any, step: st.Image) -> Any:
    for image in conn.image.images(name=step.name):
        if image.status == "active":
            return image
    return None


def check(conn: Any, step: st.Step, secrets: dict[str, str]) -> bool:
    if isinstance(step, st.IdentityObjects):
        return not identity.missing(conn, _identity_spec(step, secrets))
    if isinstance(step, st.Image):
        return _active_image(conn, step) is not None
    if isinstance(step, st.Flavors):
        return not _missing_flavors(conn, step)
    if isinstance(step, st.ServicesUp):
        return not _services_down(conn, step)
    if isinstance(step, networking.ProviderNetwork):
        return networking.provider_network_exists(conn, step)
    raise TypeError(step.kind)


def apply(conn: Any, step: st.Step, secrets: dict[str, str]) -> tuple[int, list[str]]:
    if isinstance(step, st.IdentityObjects):
        return 0, identity.ensure(conn, _identity_spec(step, secrets))
    if isinstance(step, st.Image):
        return _upload(conn, step)
    if isinstance(step, st.Flavors):
        return _create_flavors(conn, step)
    if isinstance(step, st.ServicesUp):
        return _wait_services(conn, step)
    if isinstance(step, networking.ProviderNetwork):
        return networking.create_provider_network(conn, step)
    raise TypeError(step.kind)


def _services_down(conn: Any, step: st.ServicesUp) -> list[str]:
    """What of ``step.expect`` is not reported up (yet), as "binary on host: state"."""
    seen: dict[tuple[str, str], str] = {}
    if step.api == "compute":
        for svc in conn.compute.services():
            up = svc.state == "up" and svc.status == "enabled"
            seen[svc.binary, svc.host] = "up" if up else f"{svc.state}/{svc.status}"
    else:
        for agent in conn.network.agents():
            up = agent.is_alive and agent.is_admin_state_up
            seen[agent.binary, agent.host] = "up" if up else "not alive"
    return [
        f"{binary} on {host}: {seen.get((binary, host), 'not registered')}"
        for binary, host in step.expect
        if seen.get((binary, host)) != "up"
    ]


def _wait_services(conn: Any, step: st.ServicesUp) -> tuple[int, list[str]]:
    started = time.monotonic()
    down = _services_down(conn, step)
    while down and time.monotonic() - started < step.timeout:
        time.sleep(0.5)
        down = _services_down(conn, step)
    if down:
        return 1, [
            f"not up after {step.timeout:.0f} s: " + "; ".join(down),
            "Read the service's log on that host (/var/log/nova/, /var/log/neutron/).",
        ]
    return 0, [
        f"{binary} on {host}: up after {time.monotonic() - started:.0f} s"
        for binary, host in step.expect
    ]


def _missing_flavors(conn: Any, step: st.Flavors) -> list[tuple[str, str, int, int, int]]:
    have = {f.name for f in conn.compute.flavors(is_public=None)}
    return [f for f in step.flavors if f[0] not in have]


def _create_flavors(conn: Any, step: st.Flavors) -> tuple[int, list[str]]:
    lines = []
    for name, fid, vcpus, ram, disk in _missing_flavors(conn, step):
        conn.compute.create_flavor(name=name, id=fid, vcpus=vcpus, ram=ram, disk=disk)
        lines.append(f"flavor {name} (id {fid}): {vcpus} vCPU, {ram} MB RAM, {disk} GB disk")
    return 0, lines or ["all flavors exist"]


def _upload(conn: Any, step: st.Image) -> tuple[int, list[str]]:
    from labkit.sim.mirror.catalog import BY_PATH  # the lab's generated images

    source = BY_PATH[step.source].image
    with tempfile.TemporaryFile() as data:
        for block in source.blocks(block=4 << 20):
            data.write(block)
        data.seek(0)
        image = conn.image.create_image(
            name=step.name,
            disk_format=step.disk_format,
            container_format=step.container_format,
            visibility=step.visibility,
            data=data,
            validate_checksum=False,
        )
    image = conn.image.wait_for_status(image, "active", failures=["killed"], interval=0.5, wait=300)
    return 0, [
        f"image {image.name} ({image.id}) is {image.status}: {image.size} bytes, "
        f"md5 {image.checksum}"
    ]
