"""What kind of system an image boots: its default user, kernel, release files and shell.

A real cloud image carries its own operating system; what a guest prints and answers
depends on it. The lab has two: a trusty-like Ubuntu cloud image (default user ``ubuntu``,
bash) and CirrOS (default user ``cirros``, BusyBox's ``sh``). Which one an image is comes
from its Glance properties, as tools such as Nova's ``os_admin_user`` and cloud-init's
distro detection read them: ``os_admin_user`` names the default user outright, else
``os_distro`` (``ubuntu``, ``cirros``) picks the profile, else the image's name does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    distro: str  # "ubuntu" | "cirros"
    default_user: str
    pretty_name: str  # what the boot's "Welcome to ..." line and the login banner show
    os_release: str  # /etc/os-release
    kernel: str  # uname -r
    kernel_build: str  # uname -v
    compiler: str  # the "Linux version" line's builder and compiler
    shell: str  # the login shell's name in its own error messages ("-bash", "-sh")
    not_found: str  # "command not found" (bash) or "not found" (BusyBox ash)
    nic: str  # the first NIC's name inside the guest
    groups: tuple[str, ...]  # the default user's supplementary groups
    boot_overhead_mb: int  # what the running system itself uses (free -m's "used")
    root_used_gb: float  # what the image's files take on the root disk


UBUNTU = Profile(
    distro="ubuntu",
    default_user="ubuntu",
    pretty_name="Ubuntu 14.04.6 LTS (trusty)",
    os_release=(
        'NAME="Ubuntu"\n'
        'VERSION="14.04.6 LTS, Trusty Tahr"\n'
        "ID=ubuntu\n"
        "ID_LIKE=debian\n"
        'PRETTY_NAME="Ubuntu 14.04.6 LTS"\n'
        'VERSION_ID="14.04"\n'
        "VERSION_CODENAME=trusty\n"
        'HOME_URL="http://www.ubuntu.com/"\n'
        'SUPPORT_URL="http://help.ubuntu.com/"\n'
        'BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"\n'
    ),
    kernel="3.13.0-170-generic",
    kernel_build="#220-Ubuntu SMP Thu May 9 12:40:49 UTC 2019",
    compiler="(buildd@lcy01-amd64-008) (gcc version 4.8.4 (Ubuntu 4.8.4-2ubuntu1~14.04.4) )",
    shell="-bash",
    not_found="command not found",
    nic="eth0",
    groups=("adm", "dialout", "cdrom", "floppy", "sudo", "audio", "dip", "video", "plugdev"),
    boot_overhead_mb=92,
    root_used_gb=0.9,
)

CIRROS = Profile(
    distro="cirros",
    default_user="cirros",
    pretty_name="CirrOS 0.6.2",
    os_release=(
        'NAME="CirrOS"\n'
        'VERSION="0.6.2"\n'
        "ID=cirros\n"
        'VERSION_ID="0.6.2"\n'
        'PRETTY_NAME="CirrOS 0.6.2"\n'
        'HOME_URL="https://cirros-cloud.net"\n'
        'BUG_REPORT_URL="https://github.com/cirros-dev/cirros/issues"\n'
    ),
    kernel="5.15.0-71-generic",
    kernel_build="#78-Ubuntu SMP Tue Apr 18 09:00:29 UTC 2023",
    compiler="(buildd@lcy02-amd64-044) (gcc (Ubuntu 11.3.0-1ubuntu1~22.04) 11.3.0)",
    shell="-sh",
    not_found="not found",
    nic="eth0",
    groups=("adm", "sudo"),
    boot_overhead_mb=38,
    root_used_gb=0.02,
)


def profile_for(image_name: str, properties: dict[str, str]) -> tuple[Profile, str]:
    """(profile, default user) for an image: ``os_admin_user`` wins for the user,
    ``os_distro`` (else the name) picks the system."""
    distro = (properties.get("os_distro") or "").lower()
    if not distro:
        distro = "cirros" if "cirros" in image_name.lower() else "ubuntu"
    found = CIRROS if distro == "cirros" else UBUNTU
    return found, properties.get("os_admin_user") or found.default_user
