"""A tiny bootable guest for real lab hosts: a Debian kernel and a busybox initramfs.

Until the lab has a full guest image, this is what real Nova boots to prove the chain works:
built in seconds on the controller from two Debian packages (through the lab's apt proxy, no
internet), uploaded to the real Glance the AKI/ARI way -- a kernel image, a ramdisk image
and a small raw root image whose properties name them -- exactly as in the real-install
notes. Under QEMU's emulation (TCG) it reaches its shell in about five seconds.

Its init loads the virtio network driver, asks for an address by DHCP (busybox udhcpc; the
answer comes from the DHCP agent's dnsmasq, with a route to 169.254.169.254 through the
DHCP port), asks the metadata service who it is (the DHCP namespace's haproxy, the metadata
agent, nova-api-metadata) and prints what it got to the serial console, where ``openstack
console log show`` reads it::

    === LABKIT TINY GUEST BOOTED: 6.1.0-57-cloud-amd64 ===
    === LABKIT TINY GUEST DHCP: lease of 10.64.0.142/24 from 10.64.0.100 router 10.64.0.1 ===
    === LABKIT TINY GUEST METADATA: "uuid": "1d7c...-..." ===

:func:`build_script` is the shell script (run as root on the controller); :data:`IMAGE` the
Glance name of the bootable image.
"""

from __future__ import annotations

import hashlib

IMAGE = "tiny"  # the root image; its kernel and ramdisk are tiny-kernel and tiny-ramdisk
WORKDIR = "/root/tiny-guest"
BOOTED = "=== LABKIT TINY GUEST BOOTED"
LEASE = "=== LABKIT TINY GUEST DHCP: lease of"
METADATA = "=== LABKIT TINY GUEST METADATA:"

# The virtio network driver and what it needs, in load order (Debian's cloud kernel builds
# them as modules; busybox's insmod does not resolve dependencies).
MODULES = (
    "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci "
    "failover net_failover virtio_net"
)

_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
echo "=== LABKIT TINY GUEST BOOTED: $(uname -r) ==="
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko; done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -t 20 -T 2 -n -q -O staticroutes -s /bin/dhcp-script ||
    echo "=== LABKIT TINY GUEST DHCP: no lease ==="
for try in 1 2 3 4 5 6; do
    # busybox-static's wget crashes in static glibc's resolver; plain HTTP over nc.
    printf 'GET /openstack/latest/meta_data.json HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n' |
        nc -w 5 169.254.169.254 80 > /tmp/meta 2>/dev/null
    if grep -q '"uuid"' /tmp/meta; then
        echo "=== LABKIT TINY GUEST METADATA: $(grep -o '"uuid": *"[^"]*"' /tmp/meta) ==="
        break
    fi
    sleep 2
done
ip -4 addr show dev eth0
while true; do sleep 3600; done
"""

_DHCP_SCRIPT = r"""#!/bin/sh
case "$1" in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}"
    # Option 121: the DHCP agent's route to 169.254.169.254 (its metadata proxy).
    set -- $staticroutes
    while [ $# -ge 2 ]; do ip route replace "$1" via "$2"; shift 2; done
    echo "=== LABKIT TINY GUEST DHCP: lease of $ip/$mask from $serverid router $router ==="
    ;;
esac
"""


def build_script() -> str:
    """Shell (root, on the controller, admin-openrc there): build the tiny guest's files and
    upload them to Glance unless an active image of this version exists. Idempotent."""
    version = hashlib.sha256((MODULES + _INIT + _DHCP_SCRIPT).encode()).hexdigest()[:12]
    return f"""set -e
. /root/admin-openrc
if openstack image show -f value -c status -c properties {IMAGE} 2>/dev/null |
        tr -d '\\n' | grep -q "labkit_tiny_version.*{version}.*active\\|active.*{version}"; then
    echo "image {IMAGE} (version {version}) is already active"; exit 0
fi
mkdir -p {WORKDIR} && cd {WORKDIR}
rm -rf k b ird && mkdir -p ird/bin ird/proc ird/sys ird/dev ird/lib/modules
kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {{print $2; exit}}')
apt-get download -q "$kpkg" busybox-static >/dev/null
dpkg-deb -x "$kpkg"_*.deb k
dpkg-deb -x busybox-static_*.deb b
cp b/bin/busybox ird/bin/
echo {MODULES} > ird/lib/modules/order
for m in {MODULES}; do
    f=$(find k/lib/modules -name "$m.ko*" | head -1)
    case "$f" in
      *.ko) cp "$f" ird/lib/modules/ ;;
      *.ko.xz) xz -dc "$f" > ird/lib/modules/$m.ko ;;
    esac
done
cat > ird/init <<'EOF'
{_INIT.rstrip()}
EOF
cat > ird/bin/dhcp-script <<'EOF'
{_DHCP_SCRIPT.rstrip()}
EOF
chmod 755 ird/init ird/bin/dhcp-script
(cd ird && find . | ../b/bin/busybox cpio -o -H newc 2>/dev/null | gzip -9) > tiny-initrd.gz
cp k/boot/vmlinuz-* tiny-vmlinuz
truncate -s 64M tiny-root.raw
for old in $(openstack image list -f value -c ID --name {IMAGE}-kernel) \\
           $(openstack image list -f value -c ID --name {IMAGE}-ramdisk) \\
           $(openstack image list -f value -c ID --name {IMAGE}); do
    openstack image delete "$old"
done
K=$(openstack image create -f value -c id --public --disk-format aki --container-format aki \\
    --file tiny-vmlinuz {IMAGE}-kernel)
R=$(openstack image create -f value -c id --public --disk-format ari --container-format ari \\
    --file tiny-initrd.gz {IMAGE}-ramdisk)
openstack image create -f value -c id --public --disk-format raw --container-format bare \\
    --property kernel_id=$K --property ramdisk_id=$R \\
    --property os_command_line="console=ttyS0" --property labkit_tiny_version={version} \\
    --file tiny-root.raw {IMAGE}
echo "kernel $kpkg; initrd $(stat -c %s tiny-initrd.gz) bytes"
"""
