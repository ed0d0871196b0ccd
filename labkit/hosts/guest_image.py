"""The lab's guest image for real clouds: a bootable disk made from Debian packages in seconds.

Real Nova needs a real image to boot, and the lab has no internet beyond Debian's archive.
CirrOS would have to be downloaded; instead the lab makes its own, smaller and faster:

* **kernel**: Debian's cloud kernel (``linux-image-cloud-amd64``: virtio, ACPI, the serial
  console; what it keeps as modules -- virtio_net, virtio_blk, the IDE cdrom for a config
  drive, the power button -- is copied in, dependencies resolved from each module's
  ``depends=``);
* **userland**: an initramfs only -- BusyBox (``busybox-static``: sh, init, udhcpc, wget,
  acpid), Dropbear (``dropbear-bin``), bash as the users' shell, iputils' ping, the libraries
  they link (found by reading each binary's ELF ``DT_NEEDED``) and the scripts of
  :mod:`labkit.hosts.guest_image_files`, which do what cloud-init does and print its lines;
* **disk**: ONE disk image (qcow2, as CirrOS's) holding a FAT filesystem with the kernel,
  the initramfs and SYSLINUX as boot loader (``syslinux`` installs itself through ``mtools``
  onto the image file: no loop device, no mount). One file is what ``server create --image
  X`` expects and what Glance's web-download fetches from the lab's mirror in one step; the
  kernel's command line (``console=ttyS0``, so Nova's console log shows the boot) lives in
  ``syslinux.cfg``. The guest mounts that same filesystem to keep its host keys across
  reboots. (The other way, kernel and ramdisk as separate AKI/ARI images named by the disk
  image's ``kernel_id``/``ramdisk_id``, takes three uploads and properties the notebooks'
  ``server create`` flow does not show.)

It boots under TCG (no KVM) in a few seconds. Build: ``apt-get download`` of the packages,
``dpkg-deb -x``, the initramfs written by :mod:`labkit.hosts.guest_image_cpio`, then mtools
and syslinux -- run from their own extracted packages, so nothing is installed on the
machine. The result is cached next to the hosts' root tarball, its name a hash of everything
that goes in (packages, modules, scripts, default user): a second build is a file lookup.

Made for real lab hosts (issue 12), to be uploaded where the notebooks upload CirrOS (as
``cirros``, ``--disk-format qcow2``); its default user is ``cirros`` too, like the sim's CirrOS.
What it cannot do that a cloud image does: no ``sudo`` (nothing in it is setuid), only the
``write_files``/``runcmd`` part of ``#cloud-config``, no SATA (a q35 machine's config-drive
cdrom is not seen; the metadata service still is), and files written in it live in RAM.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.hosts import guest_image_files as gf
from labkit.hosts.errors import LocalHostsError
from labkit.hosts.guest_image_cpio import Archive
from labkit.sim.mirror.qcow2 import CLUSTER, Qcow2

IMAGE_FORMAT = 2  # bump when the build changes in a way the inputs below do not show
ARCH = "amd64"
DEFAULT_USER = "cirros"  # the sim's CirrOS profile's user; the notebooks' image is "cirros"
MIN_RAM_MB = 128  # kernel + initramfs in RAM, measured to boot and serve SSH in 128 MiB
MIN_DISK_GB = 1
KERNEL_PACKAGE = "linux-image-cloud-amd64"  # a metapackage: depends on the current kernel
GUEST_PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "iputils-ping",  # BusyBox's ping needs root; this one pings as any user (ICMP sockets)
    # the users' login shell: BusyBox sh runs its own applets before anything on PATH (its
    # ping, not the one above), and bash is friendlier for an interactive session anyway
    "bash",
    # what dropbear links, and what those link (checked at build: see needed_libraries)
    "libc6",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
    "libcap2",
    "libidn2-0",
    "libunistring2",
    "libtinfo6",
)
BUILD_PACKAGES = ("mtools", "syslinux", "syslinux-common")  # used on the machine, not copied
LOADER = "ld-linux-x86-64.so.2"
LIB_DIR = "lib/x86_64-linux-gnu"
# Modules of the cloud kernel the guest loads (their dependencies come along).
MODULES = (
    "virtio_pci",  # the PCI transport of every virtio device
    "virtio_net",  # the NIC Nova gives a libvirt guest
    "virtio_blk",  # its disks (the image itself; a vfat config drive)
    "virtio_rng",  # entropy, when the flavor allows an RNG device
    "virtio_balloon",  # libvirt's default memory balloon
    "ata_piix",  # the IDE controller of qemu's "pc" machine: the config drive cdrom
    "sr_mod",  # SCSI cdrom (the ATA cdrom appears through it)
    "isofs",  # the config drive's iso9660
    "vfat",  # the boot disk, and a vfat config drive
    "nls_cp437",
    "nls_ascii",
    "button",  # the ACPI power button
    "evdev",  # /dev/input/event*, which acpid reads the button from
)
KERNEL_ARGS = "console=tty0 console=ttyS0,115200n8"
MiB = 1 << 20
APT_TIMEOUT = 600.0
TOOL_TIMEOUT = 120.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class GuestImage:
    """What Glance needs to know to register the image, and what Nova's users need."""

    path: Path
    default_user: str = DEFAULT_USER
    disk_format: str = "qcow2"
    container_format: str = "bare"
    min_ram: int = MIN_RAM_MB  # MiB
    min_disk: int = MIN_DISK_GB  # GiB

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def properties(self) -> dict[str, str]:
        """Image properties: who logs in (``os_admin_user``, as the sim reads it too), and
        what it is (``os_distro``; the sim's CirrOS profile matches it)."""
        return {
            "os_admin_user": self.default_user,
            "os_distro": "cirros" if self.default_user == "cirros" else "linux",
            "os_type": "linux",
            "hw_architecture": "x86_64",
        }

    def glance_create_args(self, name: str = "cirros") -> list[str]:
        """``openstack image create`` arguments (without the data source)."""
        args = [
            "--disk-format",
            self.disk_format,
            "--container-format",
            self.container_format,
            "--min-ram",
            str(self.min_ram),
            "--min-disk",
            str(self.min_disk),
        ]
        for key, value in self.properties.items():
            args += ["--property", f"{key}={value}"]
        return [*args, name]


def image_name(default_user: str = DEFAULT_USER) -> str:
    """The cached file's name: a hash of every input, so changing one rebuilds the image."""
    parts = [
        str(IMAGE_FORMAT),
        ARCH,
        KERNEL_PACKAGE,
        *GUEST_PACKAGES,
        *BUILD_PACKAGES,
        *MODULES,
        KERNEL_ARGS,
        default_user,
    ]
    parts += [f"{f.path}\n{f.mode:o}\n{f.content}" for f in gf.guest_files(default_user, [])]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]
    return f"labkit-guest-{default_user}-{ARCH}-{digest}.qcow2"


def cached(cache_dir: Path, default_user: str = DEFAULT_USER) -> GuestImage | None:
    """The image if it is already built, else None (nothing is downloaded)."""
    path = cache_dir / image_name(default_user)
    return GuestImage(path, default_user) if path.is_file() else None


def build(cache_dir: Path, default_user: str = DEFAULT_USER, say: Say = print) -> Path:
    """The guest image's path, building it into ``cache_dir`` if it is not there yet.

    Needs root only for what ``apt-get download`` needs (none when the archives are
    readable); takes 8-25 s cold on two busy cores (mostly the 27 MB kernel package), nothing warm.
    """
    return ensure(cache_dir, default_user, say)[0].path


def ensure(
    cache_dir: Path, default_user: str = DEFAULT_USER, say: Say = print
) -> tuple[GuestImage, bool]:
    """``(image, built_now)``."""
    found = cached(cache_dir, default_user)
    if found is not None:
        return found, False
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", default_user) or default_user == "root":
        raise ValueError(f"not a usable default user name: {default_user!r}")
    if _debian_arch() != ARCH:
        raise LocalHostsError(
            f"The lab's guest image is built for {ARCH} only; this machine is {_debian_arch()}.",
            "Run the real tier on an x86_64 machine.",
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / image_name(default_user)
    work = cache_dir / f".guest-build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        say(f"building the guest image {target.name} from Debian packages")
        debs = work / "debs"
        trees = _download_and_extract(debs, work / "x", say)
        kernel_tree = trees[KERNEL_PACKAGE]
        version, vmlinuz = _kernel(kernel_tree)
        modules = module_load_order(kernel_tree / "lib/modules" / version, MODULES)
        initrd = _initramfs(trees, kernel_tree / "lib/modules" / version, modules, default_user)
        say(
            f"kernel {version} ({vmlinuz.stat().st_size // 1024} KiB), initramfs "
            f"{len(initrd) // 1024} KiB, {len(modules)} modules"
        )
        raw = work / "disk.img"
        _make_disk(raw, vmlinuz, initrd, trees)
        tmp = work / "disk.qcow2"
        to_qcow2(raw, tmp)
        tmp.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return GuestImage(target, default_user), True


# ---- packages -----------------------------------------------------------------------------------


def _debian_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _apt_download(folder: Path, packages: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *packages],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT,
    )
    if done.returncode != 0:
        raise LocalHostsError(
            f"apt-get download {' '.join(packages)} failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()[-1500:]}",
            "Check that this machine reaches its Debian mirror (`apt-get update` works?).",
        )


def _deb_of(folder: Path, package: str) -> Path:
    found = sorted(folder.glob(f"{package}_*.deb"))
    if not found:
        raise LocalHostsError(f"apt-get download left no {package}_*.deb in {folder}", "")
    return found[-1]


def _download_and_extract(debs: Path, out: Path, say: Say) -> dict[str, Path]:
    """Download the packages (the kernel metapackage resolved to its kernel) and unpack each
    into its own folder; returns package name -> folder."""
    _apt_download(debs, [KERNEL_PACKAGE, *GUEST_PACKAGES, *BUILD_PACKAGES])
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(_deb_of(debs, KERNEL_PACKAGE)), "Depends"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kernel = next(
        (p.split()[0] for p in depends.split(",") if p.strip().startswith("linux-image-")), ""
    )
    if not kernel:
        raise LocalHostsError(f"{KERNEL_PACKAGE} depends on no kernel: {depends!r}", "")
    _apt_download(debs, [kernel.strip()])
    say(f"downloaded {len(list(debs.glob('*.deb')))} packages; kernel package {kernel.strip()}")
    trees: dict[str, Path] = {}
    for name in (kernel.strip(), *GUEST_PACKAGES, *BUILD_PACKAGES):
        tree = out / name
        tree.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(_deb_of(debs, name)), str(tree)], check=True)
        trees[name] = tree
    trees[KERNEL_PACKAGE] = trees[kernel.strip()]
    return trees


def _kernel(tree: Path) -> tuple[str, Path]:
    images = sorted((tree / "boot").glob("vmlinuz-*"))
    if not images:
        raise LocalHostsError(f"no /boot/vmlinuz-* in the kernel package ({tree})", "")
    version = images[-1].name.removeprefix("vmlinuz-")
    return version, images[-1]


# ---- kernel modules -----------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    return path.name.split(".ko")[0].replace("-", "_")


def module_depends(path: Path) -> list[str]:
    """The ``depends=`` of a module's ``.modinfo`` section (what ``modinfo -F depends``
    prints), read straight from the file: NUL-separated ``key=value`` strings."""
    data = path.read_bytes()
    at = data.find(b"\0depends=")
    if at < 0:
        return []
    value = data[at + len(b"\0depends=") : data.index(b"\0", at + 1)].decode()
    return [name.replace("-", "_") for name in value.split(",") if name]


def module_load_order(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    """File stems of ``wanted`` and everything they depend on, dependencies first.

    Modules built into the kernel (``modules.builtin``) need no file and are skipped.
    """
    files = {_module_name(p): p for p in moddir.rglob("*.ko*")}
    builtin = set()
    listing = moddir / "modules.builtin"
    if listing.is_file():
        builtin = {_module_name(Path(line)) for line in listing.read_text().split()}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name in builtin and name not in files:
            return
        if name not in files:
            raise LocalHostsError(f"kernel module {name} is not in {moddir}", "")
        for dependency in module_depends(files[name]):
            visit(dependency)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


# ---- the initramfs ------------------------------------------------------------------------------


def _resolve(tree: Path, relative: str) -> Path:
    """A file inside an extracted package, following symlinks within that package."""
    path = tree / relative
    for _ in range(10):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = tree / target.lstrip("/") if target.startswith("/") else path.parent / target
    raise LocalHostsError(f"symlink loop at {tree / relative}", "")


def _find_library(trees: list[Path], soname: str) -> Path:
    for tree in trees:
        for folder in (LIB_DIR, f"usr/{LIB_DIR}"):
            candidate = tree / folder / soname
            if candidate.exists() or candidate.is_symlink():
                return _resolve(tree, str(candidate.relative_to(tree)))
    raise LocalHostsError(
        f"{soname} is in none of the guest's packages ({', '.join(GUEST_PACKAGES)})",
        "Add the package that ships it to GUEST_PACKAGES in labkit/hosts/guest_image.py.",
    )


def needed_libraries(data: bytes) -> list[str]:
    """The ``DT_NEEDED`` sonames of a 64-bit little-endian ELF file (what ``ldd`` follows):
    the dynamic section's entries with tag 1 are offsets into the string table named by its
    ``DT_STRTAB`` entry (tag 5), an address mapped back to a file offset through the
    program headers."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segments = []
    dynamic = None
    for n in range(phnum):
        kind, _, offset, vaddr, _, filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + n * phentsize
        )
        if kind == 1:  # PT_LOAD
            segments.append((vaddr, offset, filesz))
        elif kind == 2:  # PT_DYNAMIC
            dynamic = (offset, filesz)
    if dynamic is None:
        return []  # static
    entries = []
    strtab = 0
    for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == 0:
            break
        if tag == 1:
            entries.append(value)
        elif tag == 5:
            strtab = next(off + value - va for va, off, size in segments if va <= value < va + size)
    return [data[strtab + e : data.index(b"\0", strtab + e)].decode() for e in entries]


def library_closure(binaries: list[bytes], trees: list[Path]) -> dict[str, bytes]:
    """soname -> contents of every library the binaries need, directly or not."""
    found: dict[str, bytes] = {}
    todo = [name for data in binaries for name in needed_libraries(data)]
    while todo:
        soname = todo.pop()
        if soname in found:
            continue
        found[soname] = _find_library(trees, soname).read_bytes()
        todo += needed_libraries(found[soname])
    return found


def _initramfs(
    trees: dict[str, Path], moddir: Path, modules: list[str], default_user: str
) -> bytes:
    archive = Archive()
    for folder in ("proc", "sys", "dev", "run", "mnt", "var/log", "var/lib/cloud"):
        archive.directory(folder)
    archive.directory("tmp", 0o1777)
    archive.directory("var/tmp", 0o1777)
    archive.directory("root", 0o700)
    archive.directory(f"home/{default_user}", 0o755, 1000, 1000)
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3, 0o666)
    # BusyBox: one binary, one symlink per applet where Debian's busybox would put it
    busybox = trees["busybox-static"] / "bin/busybox"
    archive.file("bin/busybox", busybox.read_bytes(), 0o755)
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "bin/busybox":
            depth = applet.count("/")
            archive.symlink(applet, "../" * depth + "bin/busybox")
    archive.file("init", gf.INIT.encode(), 0o755)
    archive.directory("newroot")
    # Dropbear, ping, and what they link (the dynamic loader comes in as one of libc's needs)
    dropbear = trees["dropbear-bin"]
    binaries = {
        "usr/sbin/dropbear": (dropbear / "usr/sbin/dropbear").read_bytes(),
        "usr/bin/dropbearkey": (dropbear / "usr/bin/dropbearkey").read_bytes(),
        "bin/ping": (trees["iputils-ping"] / "bin/ping").read_bytes(),
        "bin/bash": (trees["bash"] / "bin/bash").read_bytes(),
    }
    for path, data in binaries.items():
        archive.file(path, data, 0o755)
    libraries = library_closure(list(binaries.values()), [trees[p] for p in GUEST_PACKAGES])
    for soname, data in sorted(libraries.items()):
        archive.file(f"{LIB_DIR}/{soname}", data, 0o755 if soname == LOADER else 0o644)
    if LOADER not in libraries:
        raise LocalHostsError(f"no {LOADER} among Dropbear's libraries", "")
    archive.symlink(f"lib64/{LOADER}", f"../{LIB_DIR}/{LOADER}")
    # kernel modules, flat, and the order to load them in
    files = {_module_name(p): p for p in moddir.rglob("*.ko*")}
    for name in modules:
        archive.file(f"lib/modules/{name}.ko", files[name].read_bytes())
    for item in gf.guest_files(default_user, modules):
        archive.file(item.path, item.content.encode(), item.mode, item.uid, item.gid)
    return archive.gzipped()


# ---- the disk -----------------------------------------------------------------------------------


def _syslinux_cfg() -> str:
    return (
        "# SYSLINUX boots the kernel and the initramfs next to this file; the kernel's\n"
        "# console is the serial port, which Nova's console log records.\n"
        "DEFAULT labkit\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL labkit\n"
        "  KERNEL vmlinuz\n"
        "  INITRD initrd.gz\n"
        f"  APPEND {KERNEL_ARGS}\n"
    )


def _run_tool(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    if done.returncode != 0:
        raise LocalHostsError(
            f"{' '.join(cmd)} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}", ""
        )


def _make_disk(path: Path, vmlinuz: Path, initrd: bytes, trees: dict[str, Path]) -> None:
    """A raw disk: one FAT filesystem (no partition table) that SYSLINUX boots from.

    SeaBIOS loads sector 0 -- SYSLINUX's boot sector, written by ``syslinux --install`` --
    which loads ``ldlinux.sys`` and then the kernel and initramfs named in syslinux.cfg.
    """
    payload = vmlinuz.stat().st_size + len(initrd)
    # FAT's own tables and cluster rounding take a few percent; the guest keeps a few KiB
    size = ((payload + payload // 16 + 2 * MiB) // MiB + 1) * MiB
    with path.open("wb") as fh:
        fh.truncate(size)
    mtools = trees["mtools"] / "usr/bin"
    env = {
        "PATH": f"{mtools}:/usr/sbin:/usr/bin:/sbin:/bin",
        "MTOOLS_SKIP_CHECK": "1",
        "HOME": str(path.parent),
    }
    image = str(path)
    sectors = size // 512
    _run_tool(
        [str(mtools / "mformat"), "-i", image, "-v", gf.BOOT_LABEL, "-h", "64", "-s", "32",
         "-T", str(sectors), "::"],
        env,
    )  # fmt: skip
    initrd_file = path.parent / "initrd.gz"
    initrd_file.write_bytes(initrd)
    cfg = path.parent / "syslinux.cfg"
    cfg.write_text(_syslinux_cfg())
    for source, name in ((vmlinuz, "vmlinuz"), (initrd_file, "initrd.gz"), (cfg, "syslinux.cfg")):
        _run_tool([str(mtools / "mcopy"), "-i", image, str(source), f"::{name}"], env)
    _run_tool([str(trees["syslinux"] / "usr/bin/syslinux"), "--install", image], env)


def to_qcow2(raw: Path, out: Path) -> None:
    """The raw disk as a qcow2 file, every cluster allocated, in order.

    Same layout as the mirror's generated images (:class:`labkit.sim.mirror.qcow2.Qcow2`:
    header, refcount table and blocks, L1 and L2 tables, then the data clusters), with the
    raw disk's bytes as the data: no qemu-img needed on the machine. qcow2 because that is
    what the notebooks declare for the image they upload (``--disk-format qcow2``, like
    CirrOS's), and Nova refuses an image whose data is not in its declared format.
    """
    size = raw.stat().st_size
    if size % CLUSTER:
        raise ValueError(f"{raw} is not a whole number of {CLUSTER}-byte clusters")
    layout = Qcow2(size, size // CLUSTER)
    with out.open("wb") as dest, raw.open("rb") as source:
        dest.write(layout.metadata)
        shutil.copyfileobj(source, dest, MiB)


# ---- the lab's mirror ---------------------------------------------------------------------------

MIRROR_FOLDER = "labkit"


def mirror_path(image: GuestImage) -> str:
    """Where the lab's image mirror serves the image (below ``/mirror/``)."""
    return f"{MIRROR_FOLDER}/{image.path.name}"


def mirror_files(cache_dir: Path) -> dict[str, GuestImage]:
    """The guest images already built in ``cache_dir``, by their path below ``/mirror/``
    (nothing is built or downloaded: the mirror serves what ``labkit hosts up`` made)."""
    out = {}
    for path in sorted(cache_dir.glob("labkit-guest-*.qcow2")):
        user = path.name.removeprefix("labkit-guest-").split(f"-{ARCH}-")[0]
        if image_name(user) == path.name:  # an older build's file is not served
            image = GuestImage(path, user)
            out[mirror_path(image)] = image
    return out


def checksums(image: GuestImage) -> dict[str, str]:
    """md5 and sha512 of the file (what ``MD5SUMS``/``SHA512SUMS`` list), computed once and
    kept beside it."""
    out = {}
    for algo in ("md5", "sha512"):
        side = image.path.with_name(f"{image.path.name}.{algo}")
        if side.is_file() and side.stat().st_mtime >= image.path.stat().st_mtime:
            out[algo] = side.read_text().strip()
            continue
        hasher = hashlib.new(algo)
        with image.path.open("rb") as fh:
            for block in iter(lambda: fh.read(MiB), b""):
                hasher.update(block)
        out[algo] = hasher.hexdigest()
        side.write_text(out[algo] + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m labkit.hosts.guest_image [CACHE_DIR] [--user NAME]``: build (or find) the
    image and print how to register it."""
    import argparse

    from labkit.hosts.layout import default_cache_dir

    parser = argparse.ArgumentParser(prog="python -m labkit.hosts.guest_image")
    parser.add_argument("cache_dir", nargs="?", help="default: the lab's rootfs cache")
    parser.add_argument("--user", default=DEFAULT_USER, help="the image's default user")
    args = parser.parse_args(argv)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir() / "rootfs"
    image, _ = ensure(cache, args.user)
    print(image.path)
    print(f"size {image.size / MiB:.1f} MiB; mirror path {mirror_path(image)}")
    print("openstack image create " + " ".join(image.glance_create_args()) + " --file ...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
