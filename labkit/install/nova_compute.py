"""Layer 5b -- nova-compute on every worker (Install Guide "nova-compute-install", Zed, Debian).

nova-compute runs the servers a host gets, through libvirt and QEMU (KVM where the host has
it, plain emulation otherwise). It reports the host's CPUs, RAM and disk to Placement, and
it joins the cloud only once the controller maps it to a cell (``discover_hosts``). For more
workers, the seed says: "follow sections 5 and 6.2 again" -- this same layer, on the new host.
"""

from __future__ import annotations

from labkit.envs import Host
from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.nova_controller import CONF, common_settings

NAME = "nova-compute"
REQUIRES = ("nova-controller",)
COMPUTE_CONF = "/etc/nova/nova-compute.conf"
QEMU_CONF = "/etc/libvirt/qemu.conf"
# A boot sector (mov al,0x10; out 0xf4,al; hlt; then 0x55 0xAA at byte 510) that makes QEMU
# exit through its isa-debug-exit device with status (0x10 << 1) | 1 = 33: if KVM works the
# probe ends at once with 33, if it hangs `timeout` ends it with 124, if it aborts with
# another status. Octal escapes: dash's printf has no \x.
KVM_PROBE = (
    "test -c /dev/kvm && "
    "{ printf '\\260\\020\\346\\364\\364' > /tmp/kvm-probe.img && "
    "truncate -s 510 /tmp/kvm-probe.img && printf '\\125\\252' >> /tmp/kvm-probe.img; } && "
    "{ timeout 20 qemu-system-x86_64 -machine accel=kvm -nodefaults -display none "
    "-device isa-debug-exit,iobase=0xf4,iosize=0x04 "
    "-drive file=/tmp/kvm-probe.img,format=raw,if=floppy >/dev/null 2>&1; test $? -eq 33; }"
)


def host_steps(ctx: PlanContext, host: Host) -> list[st.Step]:
    """nova-compute on one worker, ending with ``discover_hosts`` on the controller: the
    seed's "follow sections 5 and 6.2 again" for one more worker is these steps (and the
    networking layer's :func:`labkit.install.networking.host_steps`) on the new host."""
    c = ctx.controller.name
    node_settings: list[tuple[str, str, str]] = [
        *common_settings(ctx, host.address),
        ("DEFAULT", "host", host.name),
        ("vnc", "novncproxy_base_url", f"http://{ctx.controller.address}:6080/vnc_auto.html"),
    ]
    if host.name != c:
        # The controller's nova.conf keeps its real databases (it runs the conductor).
        node_settings += [("database", "connection", ""), ("api_database", "connection", "")]
    return [
        st.Packages(
            title=f"Install nova-compute, libvirt and QEMU on {host.name}",
            host=host.name,
            names=("nova-compute", "libvirt-daemon-system", "qemu-system-x86"),
            why="nova-compute drives libvirt, libvirt drives QEMU. Only the x86 emulator: "
            "Debian's nova-compute-qemu would pull every architecture's (~600 MB). A host "
            "without systemd also gets libvirt-daemon-system-sysv, the init scripts of "
            "libvirtd and virtlogd.",
        ),
        st.IniSet(
            title=f"Configure nova.conf on {host.name}",
            host=host.name,
            path=CONF,
            settings=tuple(node_settings),
            why="The same RabbitMQ, Keystone, Glance, Placement and Neutron settings as the "
            "controller -- which also replaces Debian's shipped '[placement] username = =', "
            "region_name = regionOne and my_ip = 192.0.2.2 -- and [DEFAULT] host set to "
            "this host's name: it is what the scheduler and discover_hosts know the host by "
            "(otherwise the kernel's hostname, which need not be unique). A worker's nova.conf "
            "gets no database at all: Debian ships SQLite URLs there, and nova-compute reaches "
            "the databases only through nova-conductor.",
        ),
        st.IniSet(
            title=f"Use QEMU through libvirt on {host.name}",
            host=host.name,
            path=COMPUTE_CONF,
            settings=(("DEFAULT", "compute_driver", "libvirt.LibvirtDriver"),),
        ),
        st.ChooseSetting(
            title=f"Choose virt_type on {host.name}: kvm if KVM really works there, else qemu",
            host=host.name,
            path=COMPUTE_CONF,
            section="libvirt",
            key="virt_type",
            probe=KVM_PROBE,
            if_true="kvm",
            if_false="qemu",
            sim_answer=False,
            why="kvm runs guests on the CPU itself; qemu (TCG) emulates every instruction, "
            "slower but possible anywhere. A /dev/kvm is not enough: nested KVM inside a "
            "cloud VM often exists and then hangs or aborts (seen: 'failed to set MSR "
            "0x10a'). So the probe boots a 512-byte boot sector under accel=kvm that tells "
            "QEMU to exit at once; only if that works within 20 s is kvm chosen.",
        ),
        st.ChooseSetting(
            title=f"Give QEMU its own mount namespace on {host.name} only where / is a mount point",
            host=host.name,
            path=QEMU_CONF,
            key="namespaces",
            probe="mountpoint -q /",
            if_true='[ "mount" ]',
            if_false="[ ]",
            sim_answer=True,
            why="libvirt starts each QEMU in a private mount namespace and first makes / a "
            "slave mount; in a chroot whose / is not a mount point that fails with 'Failed "
            "disable mount propagation out of the root filesystem' and every boot ends in "
            'ERROR. [ "mount" ] is libvirt\'s default; [ ] turns the namespace off.',
        ),
        st.Service(
            title=f"Start D-Bus on {host.name}",
            host=host.name,
            name="dbus",
            why="libvirtd needs the system bus; without it nova-compute exits.",
        ),
        st.Service(title=f"Start virtlogd on {host.name}", host=host.name, name="virtlogd"),
        st.Service(
            title=f"Start libvirtd on {host.name}",
            host=host.name,
            name="libvirtd",
            restart_on=(QEMU_CONF,),
        ),
        st.Service(
            title=f"Start nova-compute on {host.name}",
            host=host.name,
            name="nova-compute",
            restart_on=(CONF, COMPUTE_CONF),
        ),
        st.ServicesUp(
            title=f"Wait until nova-compute on {host.name} reports up",
            host=c,
            api="compute",
            expect=(("nova-compute", host.name),),
            timeout=120,
            why="nova-compute registers itself (and its hypervisor) once libvirt answers; "
            "discover_hosts can only map a host that has registered. A nova-compute that "
            "exits at start (no D-Bus, no libvirtd) never shows up here.",
        ),
        st.Command(
            title=f"Map {host.name} to cell1 (discover_hosts)",
            host=c,
            user="nova",
            command="nova-manage cell_v2 discover_hosts --verbose",
            done_when=st.Check(
                "sql-row",
                f"nova_api:SELECT COUNT(*) FROM host_mappings WHERE host='{host.name}'",
            ),
            why="Until the controller maps a new compute host to a cell, the scheduler may "
            "pick it but the conductor cannot build there: 'Host is not mapped to any cell'.",
        ),
    ]


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    steps: list[st.Step] = []
    for host in ctx.workers or (ctx.controller,):
        steps += host_steps(ctx, host)
    steps.append(
        st.Image(
            title="The seed's image: an Ubuntu 14.04 (trusty) cloud image",
            host=c,
            name="trusty",
            source="ubuntu/trusty/current/trusty-server-cloudimg-amd64-disk1.img",
            why="The talk boots `--image trusty`; the lab's mirror has a trusty-like qcow2.",
        )
    )
    return steps
