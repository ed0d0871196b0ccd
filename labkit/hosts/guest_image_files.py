"""What runs inside the lab's guest image: init, DHCP, a cloud-init look-alike, the power button.

The image (built by :mod:`labkit.hosts.guest_image`) has no root filesystem of its own: the
kernel unpacks its initramfs into RAM and runs BusyBox's ``init`` from it, which reads the
:data:`INITTAB` below. Everything a cloud guest does at boot is a few shell scripts here:

1. ``rcS`` mounts /proc, /sys, /dev, loads the kernel modules the cloud kernel keeps outside
   the kernel (virtio_net, virtio_blk, the IDE cdrom and iso9660 for a config drive, the ACPI
   power button), starts ``syslogd`` and ``acpid``, then runs ...
2. ``labkit-cloud-init``: the same stages as cloud-init (``init-local``, ``init``,
   ``modules:config``, ``modules:final``) printing the same kind of lines on the serial
   console, so ``openstack console log show`` looks like a cloud image's:

   * the config drive (a disk labelled ``config-2``) if there is one, else the network:
     DHCP with ``udhcpc`` on every NIC (its script also sets the classless static routes of
     DHCP option 121 -- that is how Neutron's DHCP agent routes 169.254.169.254 to its
     metadata proxy on a network without a router);
   * the metadata service's ``/openstack/latest/meta_data.json`` (or the config drive's copy;
     the EC2 ``public-keys/0/openssh-key`` when the OpenStack path is missing) and
     ``user_data``: the hostname, the injected public keys for the default user (and for root
     behind cloud-init's "Please login as ..." command);
   * SSH host keys made at first boot (``dropbearkey``), Dropbear started, then the user data
     run if it is a shell script (``#!``) or a small ``#cloud-config`` (``write_files`` with
     plain content, ``runcmd``);
   * the ``Authorized keys`` table, the host key fingerprints and keys between cloud-init's
     ``-----BEGIN SSH HOST KEY ...-----`` markers (what labkit trusts the host key from), and
     ``Cloud-init v. ... finished``.

   What it did is kept on the boot disk (a FAT filesystem: the image itself), so a reboot
   keeps the host keys and does not redo the per-instance steps -- as cloud-init does.
3. ``acpid`` runs ``poweroff`` when the ACPI power button is pressed (Nova's ``server stop``,
   qemu's ``system_powerdown``), so Nova need not wait its 60 s shutdown timeout.

Only BusyBox, Dropbear, bash (the users' login shell) and iputils' ping are in the image:
no sudo, no cloud-init, no apt. Everything here
is text put into the initramfs; nothing runs on the lab machine.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOUD_INIT_VERSION = "23.1"  # the version the sim's guests print (labkit.sim.guests.cloudinit)
CLOUD_INIT_PATH = "usr/lib/labkit-guest/labkit-cloud-init"
TABLE_PATH = "usr/lib/labkit-guest/ci-table"
JSON_PATH = "usr/lib/labkit-guest/json-fields"
CLOUD_CONFIG_PATH = "usr/lib/labkit-guest/cloud-config"
UDHCPC_SCRIPT_PATH = "usr/share/udhcpc/default.script"
BOOT_LABEL = "LABKITBOOT"  # the FAT label of the image's own disk


@dataclass(frozen=True)
class GuestFile:
    """One regular file of the initramfs."""

    path: str  # relative to /, no leading slash
    content: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


INIT = """\
#!/bin/busybox sh
# The kernel runs this first, from the initramfs it unpacked into "rootfs". Copy it into a
# tmpfs of its own and make that the root, so / is an ordinary mount (`df -h /` shows it),
# then hand over to BusyBox init (which reads /etc/inittab).
/bin/busybox mount -t tmpfs -o mode=755 tmpfs /newroot
for entry in /*; do
    [ "$entry" = /newroot ] || /bin/busybox cp -a "$entry" /newroot/
done
exec /bin/busybox switch_root /newroot /sbin/init
"""

INITTAB = """\
# BusyBox init (PID 1). sysinit runs once at boot; shutdown runs on poweroff/reboot.
::sysinit:/etc/init.d/rcS
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
"""

RCS = """\
#!/bin/sh
# Boot: kernel file systems, modules, logging, the power button, then labkit-cloud-init.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/cloud /var/log /var/lib/cloud
# modules the cloud kernel builds as modules, in dependency order (made at image build)
while read -r module; do
    insmod "/lib/modules/$module.ko" 2>/dev/null
done < /etc/modules-load
ip link set lo up
hostname "$(cat /etc/hostname)"
sysctl -q -w net.ipv4.ping_group_range="0 2147483647" 2>/dev/null
sysctl -q -w kernel.printk="4 4 1 7" 2>/dev/null
syslogd -C64
acpid -c /etc/acpi
/usr/lib/labkit-guest/labkit-cloud-init
"""

RCK = """\
#!/bin/sh
# Shutdown (init runs this on poweroff): stop sshd, flush the boot disk if it is mounted.
echo "labkit-guest: the system is going down (power off)"
kill "$(cat /run/dropbear.pid 2>/dev/null)" 2>/dev/null
sync
umount /run/boot-disk 2>/dev/null
"""

ACPI_POWER_BUTTON = """\
#!/bin/sh
# acpid runs this when the ACPI power button is pressed (Nova's `server stop`).
echo "labkit-guest: ACPI power button pressed, powering off" > /dev/console
exec /sbin/poweroff
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc calls this with $1 = deconfig | bound | renew | leasefail | nak and the lease in
# variables: $ip $mask (prefix length) $router $dns $domain $mtu $staticroutes (option 121).
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" ${broadcast:+broadcast $broadcast} dev "$interface"
    if [ -n "$staticroutes" ]; then
        # RFC 3442: with classless static routes, the router option is ignored
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = "0.0.0.0" ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    elif [ -n "$router" ]; then
        for gw in $router; do
            ip route replace default via "$gw" dev "$interface"
            break
        done
    fi
    if [ -n "$dns" ]; then
        : > /etc/resolv.conf
        [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
        for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    fi
    ;;
esac
exit 0
"""

# A JSON reader small enough for BusyBox awk: the top-level string (and number) fields of a
# document as "name<TAB>value", and each value of the "public_keys" object as
# "public_key<TAB>value". Enough for meta_data.json; not a general parser.
JSON_FIELDS = r"""#!/usr/bin/awk -f
function unescape(s,    out, i, c, n) {
    out = ""
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "\\" && i < n) {
            i++
            c = substr(s, i, 1)
            if (c == "n") c = "\n"
            else if (c == "t") c = "\t"
            else if (c == "r") c = ""
            else if (c == "u") { c = "?"; i += 4 }
        }
        out = out c
    }
    return out
}
{ doc = doc $0 "\n" }
END {
    n = length(doc); depth = 0; key = ""; expect_value = 0; in_keys = 0
    for (i = 1; i <= n; i++) {
        c = substr(doc, i, 1)
        if (c == "\"") {
            j = i + 1; s = ""
            while (j <= n) {
                d = substr(doc, j, 1)
                if (d == "\\") { s = s d substr(doc, j + 1, 1); j += 2; continue }
                if (d == "\"") break
                s = s d; j++
            }
            i = j
            if (expect_value) {
                if (depth == 1) printf "%s\t%s\n", key, unescape(s)
                else if (depth == 2 && in_keys) {
                    count = split(unescape(s), lines, "\n")
                    for (k = 1; k <= count; k++)
                        if (lines[k] != "") printf "public_key\t%s\n", lines[k]
                }
                expect_value = 0
            } else {
                key = s
            }
        } else if (c == ":") {
            expect_value = 1
        } else if (c == "{" || c == "[") {
            if (depth == 1 && expect_value && key == "public_keys" && c == "{") in_keys = 1
            depth++; expect_value = 0
        } else if (c == "}" || c == "]") {
            depth--
            if (depth <= 1) in_keys = 0
            expect_value = 0
        } else if (c == ",") {
            expect_value = 0
        } else if (expect_value && c ~ /[-0-9tfn]/) {
            j = i
            while (j <= n && substr(doc, j, 1) ~ /[-+0-9.eEtruefalsn]/) j++
            if (depth == 1) printf "%s\t%s\n", key, substr(doc, i, j - i)
            i = j - 1; expect_value = 0
        }
    }
}
"""

# cloud-init's SimpleTable: a title centred in "+" signs, then +---+ rules around a header
# and rows with centred cells. Input: the title on line 1, then TAB-separated rows (the first
# is the header).
CI_TABLE = r"""#!/usr/bin/awk -f
function rep(ch, n,    out) { out = ""; while (n-- > 0) out = out ch; return out }
function center(s, w,    pad, left) {  # Python's str.center, as cloud-init's table uses
    pad = w - length(s); left = int(pad / 2) + ((pad % 2) && (w % 2))
    return rep(" ", left) s rep(" ", pad - left)
}
NR == 1 { title = $0; next }
{
    rows++; ncols = split($0, cells, "\t")
    for (c = 1; c <= ncols; c++) {
        cell[rows, c] = cells[c]
        if (length(cells[c]) > width[c]) width[c] = length(cells[c])
    }
    if (ncols > cols) cols = ncols
}
END {
    rule = "+"
    for (c = 1; c <= cols; c++) rule = rule rep("-", width[c] + 2) "+"
    pad = length(rule) - length(title); left = int(pad / 2)
    print rep("+", left) title rep("+", pad - left)
    print rule
    for (r = 1; r <= rows; r++) {
        line = "|"
        for (c = 1; c <= cols; c++) line = line center(cell[r, c], width[c] + 2) "|"
        print line
        if (r == 1) print rule
    }
    print rule
}
"""

# The part of #cloud-config this image understands, turned into a shell script: write_files
# (path, content as a plain or "|" block, permissions) and runcmd (strings or lists of words).
# Other keys are reported on the console as not supported by this image.
CLOUD_CONFIG = r"""#!/usr/bin/awk -f
function indent(s) { match(s, /^ */); return RLENGTH }
function unquote(s) {
    sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
    if (s ~ /^".*"$/ || s ~ /^'.*'$/) s = substr(s, 2, length(s) - 2)
    return s
}
function q(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
function flush_file() {
    if (path != "") {
        printf "mkdir -p \"$(dirname %s)\"\n", q(path)
        printf "printf '%%s' %s > %s\n", q(content), q(path)
        printf "chmod %s %s\n", (perms != "" ? perms : "0644"), q(path)
    }
    path = ""; content = ""; perms = ""; block = 0
}
NR == 1 { next }
{
    line = $0; ind = indent(line)
    if (block && (ind > key_indent || line ~ /^[ \t]*$/)) {
        if (block_indent < 0) block_indent = ind
        content = content substr(line, block_indent + 1) "\n"; next
    }
    block = 0
    if (ind == 0 && line ~ /^[A-Za-z_]+:/) {
        if (section == "write_files") flush_file()
        section = line; sub(/:.*/, "", section)
        if (section != "write_files" && section != "runcmd") print "#unsupported " section
        next
    }
    if (section == "runcmd") {
        item = line; sub(/^[ \t]*-[ \t]*/, "", item)
        if (item ~ /^\[.*\]$/) {
            item = substr(item, 2, length(item) - 2)
            gsub(/,[ \t]*/, " ", item); gsub(/["']/, "", item)
        } else item = unquote(item)
        runcmd = runcmd item "\n"
    } else if (section == "write_files") {
        item = line
        if (item ~ /^[ \t]*-[ \t]*/) { flush_file(); sub(/-/, " ", item) }
        field = item; sub(/^[ \t]*/, "", field); value = field
        sub(/:.*/, "", field); sub(/^[^:]*:[ \t]*/, "", value)
        if (field == "path") path = unquote(value)
        else if (field == "permissions") perms = unquote(value)
        else if (field == "content") {
            if (value ~ /^[|>]/) { block = 1; key_indent = ind; block_indent = -1; content = "" }
            else content = unquote(value) "\n"
        }
    }
}
END {
    if (section == "write_files") flush_file()
    if (runcmd != "") printf "#runcmd\n%s", runcmd
}
"""

CLOUD_INIT = r"""#!/bin/sh
# labkit-cloud-init: what cloud-init does at a cloud guest's boot, in BusyBox sh.
# It prints cloud-init's console lines so `openstack console log show` reads like a real
# cloud image's (the lab's tools parse the host key and authorized-keys blocks from it).
VERSION=@VERSION@
DEFAULT_USER=@DEFAULT_USER@
MD=http://169.254.169.254
LIB=/usr/lib/labkit-guest
DATA=/run/cloud                      # this boot's copy of the instance data
STATE=/run/boot-disk/labkit-state    # kept across reboots, on the image's own FAT disk
LOG=/var/log/cloud-init-output.log
MD_TRIES=30                          # one per second: the metadata proxy may come up late
# BusyBox wget here has no -T (and crashes on it): `timeout` bounds each request instead.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

stamp() { read -r up _ < /proc/uptime; printf '[%12.6f]' "$up"; }
say() {
    printf '%s\n' "$*" | while IFS= read -r line; do
        printf '%s cloud-init[%s]: %s\n' "$(stamp)" "$$" "$line"
        printf '%s\n' "$line" >> "$LOG"
    done
}
warn() { say "$(date '+%Y-%m-%d %H:%M:%S'),000 - $1[${3:-WARNING}]: $2"; }
up_seconds() { read -r up _ < /proc/uptime; echo "$up"; }
stage() { say "Cloud-init v. $VERSION running '$1' at $(date -R). Up $(up_seconds) seconds."; }
logger_lines() {  # `logger -t TAG` as the console shows it: syslog's priority and header
    while IFS= read -r line; do
        printf '<14>%s %s: %s\n' "$(date '+%b %e %H:%M:%S')" "$1" "$line"
    done
}
field() { awk -F '\t' -v k="$1" '$1 == k { sub(/^[^\t]*\t/, ""); print; exit }' "$DATA/meta"; }

# ---- init-local: the boot disk (state kept across reboots) and a config drive -----------------
boot_disk() {
    mkdir -p /run/boot-disk
    device=$(findfs LABEL=@BOOT_LABEL@ 2>/dev/null)
    # umask=077: the host keys kept there are root's alone (FAT has no owners of its own)
    [ -n "$device" ] && mount -t vfat -o rw,noatime,umask=077 "$device" /run/boot-disk 2>/dev/null
}

config_drive() {
    device=""
    i=0
    while [ $i -lt 10 ]; do
        device=$(findfs LABEL=config-2 2>/dev/null) && break
        device=""
        # wait for a second disk or a cdrom with a medium; without one, not long
        others=$(cd /sys/block && for d in sr* vd[b-z] sd*; do
            [ -e "$d/size" ] && [ "$(cat "$d/size")" != 0 ] && echo "$d"; done)
        [ -z "$others" ] && [ $i -ge 2 ] && break
        sleep 0.2; i=$((i + 1))
    done
    [ -n "$device" ] || return 1
    mkdir -p /run/config-drive
    mount -o ro "$device" /run/config-drive 2>/dev/null || return 1
    src=/run/config-drive/openstack/latest
    [ -f "$src/meta_data.json" ] || return 1
    cp "$src/meta_data.json" "$DATA/meta_data.json"
    [ -f "$src/user_data" ] && cp "$src/user_data" "$DATA/user_data"
    SOURCE="DataSourceConfigDrive [net,ver=2][source=$device]"
    return 0
}

# ---- network: DHCP on every NIC ---------------------------------------------------------------
dhcp() {
    for path in /sys/class/net/eth*; do
        nic=${path##*/}
        [ -e "$path" ] || continue
        ip link set "$nic" up
        udhcpc -i "$nic" -b -t 15 -T 1 -A 3 -S -O staticroutes -O mtu \
            -s /@UDHCPC_SCRIPT@ -p "/run/udhcpc.$nic.pid" -x hostname:"$(hostname)" \
            >/dev/null 2>&1
    done
}

net_tables() {
    {
        echo "Net device info"
        printf 'Device\tUp\tAddress\tMask\tScope\tHw-Address\n'
        for path in /sys/class/net/*; do
            nic=${path##*/}
            mac=$(cat "$path/address"); [ "$nic" = lo ] && mac=.
            up=False; ip link show "$nic" | grep -q ',UP' && up=True
            cidr=$(ip -4 -o addr show dev "$nic" | awk '{print $4; exit}')
            scope=global; [ "$nic" = lo ] && scope=host
            if [ -n "$cidr" ]; then
                mask=$(ipcalc -m "$cidr" | cut -d= -f2)
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$nic" "$up" "${cidr%/*}" "$mask" "$scope" "$mac"
            else
                printf '%s\t%s\t.\t.\t.\t%s\n' "$nic" "$up" "$mac"
            fi
        done
    } | awk -f "$LIB/ci-table" | while IFS= read -r line; do say "ci-info: $line"; done
    {
        echo "Route IPv4 info"
        printf 'Route\tDestination\tGateway\tGenmask\tInterface\tFlags\n'
        route -n | awk 'NR > 2 { printf "%d\t%s\t%s\t%s\t%s\t%s\n", NR - 3, $1, $2, $3, $8, $4 }'
    } | awk -f "$LIB/ci-table" | while IFS= read -r line; do say "ci-info: $line"; done
}

# ---- init: the metadata service ---------------------------------------------------------------
metadata() {
    url="$MD/openstack"
    tries=0; started=$(up_seconds)
    while :; do
        if timeout 10 wget -q -O "$DATA/meta_data.json" "$MD/openstack/latest/meta_data.json" \
            2> "$DATA/wget.err"; then
            timeout 20 wget -q -O "$DATA/user_data" "$MD/openstack/latest/user_data" 2>/dev/null \
                || rm -f "$DATA/user_data"
            SOURCE="DataSourceOpenStackLocal [net,ver=2]"
            return 0
        fi
        reason=$(sed -n '$p' "$DATA/wget.err" | sed 's/^wget: //')
        [ -n "$reason" ] || reason="Read timed out. (read timeout=10)"
        tries=$((tries + 1))
        if echo "$reason" | grep -q '404'; then
            ec2_metadata && return 0
        fi
        warn url_helper.py "Calling '$url' failed [$tries/${MD_TRIES}s]: $reason"
        [ $tries -ge $MD_TRIES ] && break
        sleep 1
    done
    rm -f "$DATA/meta_data.json"
    warn url_helper.py "Timed out, no response from urls: ['$url']" ERROR
    now=$(up_seconds)
    warn DataSourceOpenStack.py \
        "Giving up on OpenStack md from ['$url'] after $(( ${now%.*} - ${started%.*} )) seconds"
    return 1
}

ec2_metadata() {
    # only the EC2 paths: turn them into the few meta_data.json fields used below
    base="$MD/latest/meta-data"
    timeout 10 wget -q -O "$DATA/ec2-key" "$base/public-keys/0/openssh-key" 2>/dev/null || return 1
    id=$(timeout 10 wget -q -O - "$base/instance-id" 2>/dev/null)
    name=$(timeout 10 wget -q -O - "$base/hostname" 2>/dev/null)
    key=$(sed -n 1p "$DATA/ec2-key" | sed 's/["\\]//g')
    printf '{"uuid": "%s", "hostname": "%s", "public_keys": {"0": "%s"}}\n' \
        "$id" "$name" "$key" > "$DATA/meta_data.json"
    timeout 20 wget -q -O "$DATA/user_data" "$MD/latest/user-data" 2>/dev/null \
        || rm -f "$DATA/user_data"
    SOURCE="DataSourceEc2Local"
    return 0
}

# ---- init: per-instance steps -----------------------------------------------------------------
set_hostname() {
    name=$(field hostname); [ -n "$name" ] || name=$(field name)
    [ -n "$name" ] || return 0
    short=${name%%.*}
    hostname "$short"; echo "$short" > /etc/hostname
    printf '127.0.0.1 localhost\n127.0.1.1 %s %s\n' "$name" "$short" > /etc/hosts
}

install_keys() {
    home=$(awk -F: -v u="$DEFAULT_USER" '$1 == u { print $6 }' /etc/passwd)
    mkdir -p "$home/.ssh" /root/.ssh
    awk -F '\t' '$1 == "public_key" { sub(/^[^\t]*\t/, ""); print }' "$DATA/meta" \
        | sed '/^$/d' > "$home/.ssh/authorized_keys"
    opts=$(cat /etc/labkit-guest/root-key-options)
    while IFS= read -r key; do
        printf '%s %s\n' "$opts" "$key"
    done < "$home/.ssh/authorized_keys" > /root/.ssh/authorized_keys
    chmod 700 "$home/.ssh" /root/.ssh
    chmod 600 "$home/.ssh/authorized_keys" /root/.ssh/authorized_keys
    chown -R "$DEFAULT_USER:$DEFAULT_USER" "$home/.ssh"
}

host_keys() {
    mkdir -p /etc/dropbear
    if [ -f "$STATE/instance-id" ] && [ "$(cat "$STATE/instance-id")" = "$INSTANCE" ] \
        && [ -f "$STATE/dropbear_ed25519_host_key" ]; then
        cp "$STATE"/dropbear_*_host_key /etc/dropbear/
        chmod 600 /etc/dropbear/*
        return 0
    fi
    rm -f /etc/dropbear/dropbear_*_host_key
    for kind in ecdsa ed25519; do
        dropbearkey -t "$kind" -f "/etc/dropbear/dropbear_${kind}_host_key" >/dev/null 2>&1
    done
}

save_state() {
    [ -d /run/boot-disk ] && grep -q ' /run/boot-disk ' /proc/mounts || return 0
    mkdir -p "$STATE"
    cp /etc/dropbear/dropbear_*_host_key "$STATE/" 2>/dev/null
    for f in meta user_data authorized_keys hostname; do rm -f "$STATE/$f"; done
    cp "$DATA/meta" "$STATE/meta"
    [ -f "$DATA/user_data" ] && cp "$DATA/user_data" "$STATE/user_data"
    echo "$INSTANCE" > "$STATE/instance-id"
    sync
}

start_sshd() {
    set --
    for key in /etc/dropbear/dropbear_*_host_key; do set -- "$@" -r "$key"; done
    dropbear "$@" -s -P /run/dropbear.pid -p 22
}

# ---- modules:final ----------------------------------------------------------------------------
run_user_data() {
    [ -s "$DATA/user_data" ] || return 0
    dir=/var/lib/cloud/instance/scripts
    mkdir -p "$dir"
    first=$(sed -n 1p "$DATA/user_data")
    case "$first" in
    '#!'*)
        cp "$DATA/user_data" "$dir/part-001"; chmod 700 "$dir/part-001"
        run_script "$dir/part-001"
        ;;
    '#cloud-config'*)
        awk -f "$LIB/cloud-config" "$DATA/user_data" > "$DATA/cloud-config.sh"
        sed -n 's/^#unsupported //p' "$DATA/cloud-config.sh" | while read -r key; do
            only="(only write_files and runcmd)"
            warn labkit-guest "cloud-config key '$key' is not supported by this image $only"
        done
        sed '/^#runcmd$/,$d' "$DATA/cloud-config.sh" | grep -v '^#unsupported ' \
            > "$DATA/write_files.sh"
        sh "$DATA/write_files.sh"
        if grep -q '^#runcmd$' "$DATA/cloud-config.sh"; then
            { echo '#!/bin/sh'; sed '1,/^#runcmd$/d' "$DATA/cloud-config.sh"; } > "$dir/runcmd"
            chmod 700 "$dir/runcmd"
            run_script "$dir/runcmd"
        fi
        ;;
    *)
        start=$(head -c 40 "$DATA/user_data")
        warn __init__.py "Unhandled non-multipart (text/x-not-multipart) userdata: '$start...'"
        ;;
    esac
}

run_script() {
    (cd / && HOME=/root "$1") > "$DATA/script.out" 2>&1
    status=$?
    [ -s "$DATA/script.out" ] && say "$(cat "$DATA/script.out")"
    if [ $status -ne 0 ]; then
        warn subp.py "Failed running $1 [$status]"
        warn cc_scripts_user.py \
            "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)"
    fi
}

authkey_table() {
    home=$(awk -F: -v u="$DEFAULT_USER" '$1 == u { print $6 }' /etc/passwd)
    file="$home/.ssh/authorized_keys"
    if [ ! -s "$file" ]; then
        say "ci-info: no authorized SSH keys fingerprints found for user $DEFAULT_USER."
        return 0
    fi
    {
        echo "Authorized keys from $file for user $DEFAULT_USER"
        printf 'Keytype\tFingerprint (sha256)\tOptions\tComment\n'
        while read -r kind blob comment; do
            hex=$(echo "$blob" | base64 -d 2>/dev/null | sha256sum | cut -c1-64 \
                | sed 's/../&:/g; s/:$//')
            printf '%s\t%s\t-\t%s\n' "$kind" "$hex" "${comment:--}"
        done < "$file"
    } | awk -f "$LIB/ci-table" | while IFS= read -r line; do say "ci-info: $line"; done
}

keys_to_console() {
    for key in /etc/dropbear/dropbear_*_host_key; do
        dropbearkey -y -f "$key" > "$DATA/pub" 2>/dev/null
        line=$(grep -E '^(ssh|ecdsa)-' "$DATA/pub")
        fp=$(sed -n 's/^Fingerprint: //p' "$DATA/pub")
        set -- $line
        case "$1" in
        ssh-ed25519) label=ED25519; bits=256 ;;
        ecdsa-sha2-nistp256) label=ECDSA; bits=256 ;;
        ecdsa-sha2-nistp384) label=ECDSA; bits=384 ;;
        ecdsa-sha2-nistp521) label=ECDSA; bits=521 ;;
        ssh-rsa) label=RSA; bits=2048 ;;
        *) label=UNKNOWN; bits=0 ;;
        esac
        echo "$bits $fp $3 ($label)" >> "$DATA/fingerprints"
        echo "$line" >> "$DATA/hostkeys"
    done
    {
        echo ""
        echo "#############################################################"
        echo "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
        cat "$DATA/fingerprints"
        echo "-----END SSH HOST KEY FINGERPRINTS-----"
        echo "#############################################################"
    } | logger_lines ec2
    echo "-----BEGIN SSH HOST KEY KEYS-----"
    cat "$DATA/hostkeys"
    echo "-----END SSH HOST KEY KEYS-----"
}

# ---- the stages -------------------------------------------------------------------------------
mkdir -p "$DATA"
: > "$LOG"
echo "labkit-guest: BusyBox + Dropbear;" \
    "labkit-cloud-init does what cloud-init does and prints its lines"
stage init-local
boot_disk
SOURCE=""
config_drive || true
dhcp
stage init
net_tables
[ -n "$SOURCE" ] || metadata || true
if [ -s "$DATA/meta_data.json" ]; then
    awk -f "$LIB/json-fields" "$DATA/meta_data.json" > "$DATA/meta"
    INSTANCE=$(field uuid)
else
    : > "$DATA/meta"
    INSTANCE=iid-datasource-none
fi
NEW=yes
[ -f "$STATE/instance-id" ] && [ "$(cat "$STATE/instance-id")" = "$INSTANCE" ] && NEW=no
if [ "$NEW" = no ]; then
    [ -f "$STATE/user_data" ] && [ ! -f "$DATA/user_data" ] \
        && cp "$STATE/user_data" "$DATA/user_data"
fi
set_hostname
install_keys
host_keys
start_sshd
stage modules:config
stage modules:final
[ "$NEW" = yes ] && run_user_data
authkey_table
keys_to_console
save_state
source_label=${SOURCE:-DataSourceNone}
say "Cloud-init v. $VERSION finished at $(date -R). Datasource $source_label." \
    " Up $(up_seconds) seconds"
[ -n "$SOURCE" ] || warn cc_final_message.py "Used fallback datasource"
"""

CURL_SHIM = r"""#!/bin/sh
# curl is not in this image: the common `curl [-s] [-f] [-o FILE] URL` through BusyBox wget.
out=-
quiet=""
while [ $# -gt 0 ]; do
    case "$1" in
    -o) out=$2; shift ;;
    -s|-sS|-f|-fs|-sf|-fsS|-sfL|-fsSL|-L|-S) case "$1" in *s*) quiet=-q ;; esac ;;
    -m|--max-time|--connect-timeout) shift ;;
    -*) ;;
    *) url=$1 ;;
    esac
    shift
done
[ -n "$url" ] || { echo "curl: no URL specified (this image's curl is a wget shim)" >&2; exit 2; }
exec wget $quiet -O "$out" "$url"
"""


def root_key_options(default_user: str) -> str:
    """cloud-init's ``disable_root``: root's keys only say which user to log in as.

    cloud-init writes ``command="echo 'Please login as the user \\"ubuntu\\" ...'"``;
    Dropbear keeps the backslashes of ``\\"`` inside an option, so the quotes are printf's
    octal escapes here and the words the same.
    """
    return (
        'no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="printf '
        f"'Please login as the user \\042{default_user}\\042 rather than the user "
        "\\042root\\042.\\n\\n';sleep 10;exit 142\""
    )


def os_release(default_user: str) -> str:
    return (
        'NAME="labkit guest"\n'
        "ID=labkit-guest\n"
        "ID_LIKE=cirros\n"
        'PRETTY_NAME="labkit guest (BusyBox + Dropbear, Debian 12 kernel)"\n'
        f"DEFAULT_USER={default_user}\n"
    )


def guest_files(default_user: str, modules: list[str]) -> list[GuestFile]:
    """Every regular file the initramfs gets from this module (binaries come separately)."""
    cloud_init = (
        CLOUD_INIT.replace("@VERSION@", CLOUD_INIT_VERSION)
        .replace("@DEFAULT_USER@", default_user)
        .replace("@BOOT_LABEL@", BOOT_LABEL)
        .replace("@UDHCPC_SCRIPT@", UDHCPC_SCRIPT_PATH)
    )
    uid = 1000
    return [
        GuestFile("etc/inittab", INITTAB),
        GuestFile("etc/init.d/rcS", RCS, 0o755),
        GuestFile("etc/init.d/rcK", RCK, 0o755),
        GuestFile("etc/acpi/PWRF/00000080", ACPI_POWER_BUTTON, 0o755),
        GuestFile("etc/modules-load", "".join(f"{m}\n" for m in modules)),
        GuestFile(
            "etc/passwd",
            "root:*:0:0:root:/root:/bin/bash\n"
            f"{default_user}:*:{uid}:{uid}:{default_user.capitalize()}:/home/{default_user}"
            ":/bin/bash\n",
        ),
        GuestFile(
            "etc/group", f"root:x:0:\ntty:x:5:\nadm:x:4:{default_user}\n{default_user}:x:{uid}:\n"
        ),
        GuestFile("etc/labkit-guest/root-key-options", root_key_options(default_user) + "\n"),
        GuestFile("etc/shells", "/bin/sh\n/bin/ash\n/bin/bash\n"),
        GuestFile("etc/hostname", "labkit-guest\n"),
        GuestFile("etc/hosts", "127.0.0.1 localhost\n"),
        GuestFile("etc/os-release", os_release(default_user)),
        GuestFile(
            "etc/issue",
            "labkit guest \\n \\l\nLog in over SSH as '" + default_user + "' with your key.\n",
        ),
        GuestFile(
            "etc/motd",
            "labkit guest: BusyBox + Dropbear in RAM (nothing written here survives a reboot).\n",
        ),
        GuestFile(
            "etc/profile", 'export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nPS1="\\u@\\h:\\w\\$ "\n'
        ),
        GuestFile(CLOUD_INIT_PATH, cloud_init, 0o755),
        GuestFile(TABLE_PATH, CI_TABLE, 0o755),
        GuestFile(JSON_PATH, JSON_FIELDS, 0o755),
        GuestFile(CLOUD_CONFIG_PATH, CLOUD_CONFIG, 0o755),
        GuestFile(UDHCPC_SCRIPT_PATH, UDHCPC_SCRIPT, 0o755),
        GuestFile("usr/bin/curl", CURL_SHIM, 0o755),
    ]
