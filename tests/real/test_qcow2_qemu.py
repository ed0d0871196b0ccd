"""qemu-img's verdict on the mirror's generated qcow2 images: no errors, the right size.

In the real tier (root, apt) because it needs qemu-utils, which the default test run does
not install; the tier installs it when it is missing rather than skipping.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labkit.sim.mirror.qcow2 import Qcow2

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def qemu_img() -> str:
    if shutil.which("qemu-img") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "qemu-utils"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    path = shutil.which("qemu-img")
    assert path, "qemu-utils installed but qemu-img is not on PATH"
    return path


@pytest.mark.parametrize(
    "image",
    [
        Qcow2(112 << 20, 320, "cirros"),
        Qcow2(1 << 30, 0, "blank"),
        Qcow2(2252 << 20, 9000, "two-l2-tables"),
    ],
)
def test_qemu_img_finds_no_errors(qemu_img: str, image: Qcow2, tmp_path: Path) -> None:
    path = tmp_path / "disk.qcow2"
    with open(path, "wb") as out:
        for block in image.blocks():
            out.write(block)
    subprocess.run([qemu_img, "check", str(path)], check=True, capture_output=True)
    info = json.loads(
        subprocess.run(
            [qemu_img, "info", "--output=json", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert (info["format"], info["virtual-size"]) == ("qcow2", image.virtual_size)
