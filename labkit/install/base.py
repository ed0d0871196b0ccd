"""Layer 1 -- base services: NTP, MariaDB, RabbitMQ, memcached (Install Guide "Environment").

Every OpenStack service keeps state in the SQL database, talks to the others over the
message queue, and caches tokens in memcached; the hosts' clocks must agree or tokens look
expired. The controller runs all of them; the workers only keep time with the controller.
"""

from __future__ import annotations

from labkit.envs import Host
from labkit.install import steps as st
from labkit.install.context import PlanContext

NAME = "base"
REQUIRES: tuple[str, ...] = ()
SERVICES = ("chrony", "mariadb", "rabbitmq-server", "memcached")

_MARIADB_CNF = """\
[mysqld]
bind-address = {address}

default-storage-engine = innodb
innodb_file_per_table = on
max_connections = 4096
collation-server = utf8_general_ci
character-set-server = utf8
"""


def host_steps(ctx: PlanContext, host: Host) -> list[st.Step]:
    """What every host gets, the controller and each worker alike: chrony (and crudini),
    the controller serving the lab's time and the workers following it. A worker added
    later (notebooks/07-scale-out) starts with these."""
    c = ctx.controller.name
    is_controller = host.name == c
    steps: list[st.Step] = [
        st.Packages(
            title=f"Install chrony and crudini on {host.name}",
            host=host.name,
            names=("chrony", "crudini"),
            why="Tokens carry expiry times; hosts whose clocks disagree reject each other's. "
            "crudini edits config files the way the guide's steps say.",
        )
    ]
    if ctx.local:
        steps.append(
            st.ReplaceLine(
                title=f"Let chronyd run without setting the clock on {host.name}",
                host=host.name,
                path="/etc/default/chrony",
                pattern=r"^DAEMON_OPTS=.*",
                line='DAEMON_OPTS="-F 1 -x"',
                why="Local lab hosts share this machine's kernel clock and may not set it.",
            )
        )
    chrony = (
        (
            "# The controller keeps the lab's time and serves it to the workers.\n"
            f"local stratum 10\nallow {ctx.network_cidr}\n"
        )
        if is_controller
        else f"# Keep time with the controller.\nserver {c} iburst\n"
    )
    steps.append(
        st.WriteFile(
            title=f"Configure chrony on {host.name}",
            host=host.name,
            path="/etc/chrony/conf.d/openstack-lab.conf",
            content=chrony,
            why="The controller is the time source; workers follow it.",
        )
    )
    steps.append(
        st.Service(
            title=f"Start chrony on {host.name}",
            host=host.name,
            name="chrony",
            restart_on=("/etc/chrony/conf.d/openstack-lab.conf", "/etc/default/chrony"),
        )
    )
    return steps


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    steps: list[st.Step] = []
    for host in ctx.hosts:
        steps += host_steps(ctx, host)
    steps += [
        st.Packages(
            title="Install the OpenStack client",
            host=c,
            names=("python3-openstackclient",),
            why="The `openstack` CLI, on the controller as in the guide.",
        ),
        st.Packages(
            title="Install MariaDB",
            host=c,
            names=("mariadb-server", "python3-pymysql"),
            why="Every service keeps its state in its own database on the controller.",
        ),
        st.WriteFile(
            title="Let MariaDB listen on the management network",
            host=c,
            path="/etc/mysql/mariadb.conf.d/99-openstack.cnf",
            content=_MARIADB_CNF.format(address=ctx.controller.address),
            why="Debian's MariaDB listens on 127.0.0.1 only; services connect to 'controller'.",
        ),
        st.Service(
            title="Start MariaDB",
            host=c,
            name="mariadb",
            restart_on=("/etc/mysql/mariadb.conf.d/99-openstack.cnf",),
        ),
        st.Packages(
            title="Install RabbitMQ",
            host=c,
            names=("rabbitmq-server",),
            why="The message queue Nova's components talk over.",
        ),
        st.Service(title="Start RabbitMQ", host=c, name="rabbitmq-server"),
        st.RabbitUser(
            title="Create the openstack user in RabbitMQ",
            host=c,
            user="openstack",
            password="RABBIT_PASS",
        ),
        st.Packages(
            title="Install memcached",
            host=c,
            names=("memcached", "python3-memcache"),
            why="Keystone and the services' auth middleware cache tokens here.",
        ),
        st.ReplaceLine(
            title="Let memcached listen on the management network",
            host=c,
            path="/etc/memcached.conf",
            pattern=r"^-l .*",
            line=f"-l {ctx.controller.address}",
        ),
        st.Service(
            title="Start memcached", host=c, name="memcached", restart_on=("/etc/memcached.conf",)
        ),
    ]
    return steps
