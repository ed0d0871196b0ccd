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


def host_steps(ctx: PlanContext, host: Host) -> list[st.Step]:
    """nova-compute on one worker, ending with ``discover_hosts`` on the controller: the
    seed's "follow sections 5 and 6.2 again" for one more worker is these steps (and the
    networking layer's :func:`labkit.install.networking.host_steps`) on the new host."""
    c = ctx.controller.name
    return [
        st.Packages(
            title=f"Install nova-compute on {host.name}",
            host=host.name,
            names=("nova-compute",),
            why="It pulls in libvirt and QEMU.",
        ),
        st.IniSet(
            title=f"Configure nova.conf on {host.name}",
            host=host.name,
            path=CONF,
            settings=(
                *common_settings(ctx, host.address),
                ("DEFAULT", "host", host.name),
                (
                    "vnc",
                    "novncproxy_base_url",
                    f"http://{ctx.controller.address}:6080/vnc_auto.html",
                ),
            ),
            why="The same RabbitMQ, Keystone, Glance, Placement and Neutron settings as the "
            "controller, and [DEFAULT] host set to this host's name: it is what the "
            "scheduler and discover_hosts know the host by.",
        ),
        st.IniSet(
            title=f"Use QEMU through libvirt on {host.name}",
            host=host.name,
            path=COMPUTE_CONF,
            settings=(
                ("DEFAULT", "compute_driver", "libvirt.LibvirtDriver"),
                ("libvirt", "virt_type", "qemu"),
            ),
            why="virt_type = qemu works on any host; kvm needs hardware virtualisation "
            "(egrep -c '(vmx|svm)' /proc/cpuinfo > 0 and a usable /dev/kvm).",
        ),
        st.Service(
            title=f"Start D-Bus on {host.name}",
            host=host.name,
            name="dbus",
            why="libvirtd needs the system bus; without it nova-compute exits.",
        ),
        st.Service(title=f"Start virtlogd on {host.name}", host=host.name, name="virtlogd"),
        st.Service(title=f"Start libvirtd on {host.name}", host=host.name, name="libvirtd"),
        st.Service(
            title=f"Start nova-compute on {host.name}",
            host=host.name,
            name="nova-compute",
            restart_on=(CONF, COMPUTE_CONF),
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
