"""What the Glance tests share: raw requests through keystoneauth, the mirror, waiting."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

MIRROR_CIRROS = "cirros/0.6.2/cirros-0.6.2-x86_64-disk.img"


def base(lab: Any) -> str:
    return f"http://127.0.0.1:{lab.sim_port}"


def image_url(lab: Any) -> str:
    return f"{base(lab)}/image"


def mirror_url(lab: Any, path: str = MIRROR_CIRROS) -> str:
    return f"{base(lab)}/mirror/{path}"


def request(conn: Any, lab: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A raw request to Glance with the connection's token, errors returned not raised."""
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    return conn.session.request(
        image_url(lab) + path, method, headers=headers, raise_exc=False, **kwargs
    )


def fetch_mirror(conn: Any, lab: Any, target: Path, path: str = MIRROR_CIRROS) -> Path:
    response = conn.session.get(mirror_url(lab, path), authenticated=False)
    target.write_bytes(response.content)
    return target


def md5_and_sha512(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()


def wait_for(
    conn: Any, image_id: str, done: tuple[str, ...] = ("active",), timeout: float = 30
) -> Any:
    """Poll until the image reaches one of ``done`` with no import running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = conn.image.get_image(image_id)
        if image.status in done and "os_glance_import_task" not in image.properties:
            return image
        time.sleep(0.1)
    raise AssertionError(f"image {image_id} stuck in {image.status}")


def webob_json(status: str, message: str) -> dict[str, str]:
    """Glance's JSON error body: WebOb's shape, code as a string."""
    return {"message": message, "code": status, "title": status.split(" ", 1)[1]}
