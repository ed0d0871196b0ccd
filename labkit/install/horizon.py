"""Layer 7 -- Horizon, the dashboard (Install Guide section 7, "horizon-install-debian", Zed).

Horizon is a web site, not a service other services call: it keeps no database and no
state of its own beyond the browser's session. Everything a page shows comes from the APIs
installed before it -- Keystone for the login, projects and users, Nova for instances,
flavors and hypervisors, Glance for images, Neutron for networks and security groups --
asked through their Python clients with the token of the user who is logged in. So the
dashboard can only show what those APIs answer, and a user sees in it exactly what their
roles allow in the CLI.

Configuring it is one file, ``/etc/openstack-dashboard/local_settings.py``: where Keystone
is, where sessions live (memcached), and what this cloud does not have (routers).

On real hosts Debian's ``openstack-dashboard`` package serves it with Apache under
``/horizon``. On the sim, the plan writes the same file on the simulated controller, and
labkit runs the *real* Horizon 23.0.0 (Zed) from PyPI on this machine, reading that file
(:mod:`labkit.horizon`): ``labkit sim status`` shows its URL, ``http://127.0.0.1:8080/`` by
default (``LABKIT_HORIZON_PORT`` changes it).

Horizon asks for usage "this month" by this machine's calendar, while a deterministic sim
(``deterministic: true``, the default, for stable notebook outputs) lives on its own steady
clock from 2030-01-01: its Overview's usage table stays empty and instance ages read "0
minutes". ``LABKIT_SIM_DETERMINISTIC=0`` runs the sim on the real clock.
"""

from __future__ import annotations

from typing import Any

from labkit.horizon.settings import DashboardValues, local_settings
from labkit.install import steps as st
from labkit.install.context import PlanContext

NAME = "horizon"
REQUIRES = ("nova-compute",)  # and through it Keystone, Glance, Placement, Neutron
LOCAL_SETTINGS = "/etc/openstack-dashboard/local_settings.py"
# On real hosts: a snippet Debian's Horizon executes after local_settings.py and its own.
SETTINGS_SNIPPET = "/etc/openstack-dashboard/local_settings.d/_9000_labkit_install_guide.py"


def values(ctx: PlanContext) -> DashboardValues:
    """The guide's values for this lab: Keystone's endpoint as the catalog has it."""
    if ctx.kind == "sim":
        # Every API of the sim shares one loopback port; Horizon runs on this machine.
        return DashboardValues(
            openstack_host="127.0.0.1",
            keystone_url=ctx.identity_url,
            memcached=f"{ctx.controller.name}:11211",
            allowed_hosts=("127.0.0.1", "localhost"),
        )
    return DashboardValues(
        openstack_host=ctx.controller.address,
        keystone_url=ctx.identity_url,
        memcached=f"{ctx.controller.name}:11211",
        allowed_hosts=("*",),
    )


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    settings = local_settings(values(ctx))
    if ctx.kind == "sim":
        # The simulated controller has no Debian file to edit: the guide's settings are the
        # whole file, which the dashboard next to the sim reads (after_install).
        return [
            st.WriteFile(
                title="Configure the dashboard: local_settings.py",
                host=c,
                path=LOCAL_SETTINGS,
                content=settings,
                why="Where Keystone is, sessions in memcached, the Default domain on the login "
                "form, and no routers on the provider network (section 7's edits).",
            )
        ]
    # On a real controller Debian's local_settings.py is followed by the snippets of
    # local_settings.d, executed in name order after it -- and the package's own snippets set
    # WEBROOT /horizon and a local-memory cache (_0006_debian_cache.py). Section 7's settings
    # go in a snippet named to come last, so they win over both.
    return [
        st.Packages(
            title="Install the dashboard package",
            host=c,
            names=("openstack-dashboard-apache",),
            why="The guide's Debian package: Horizon (openstack-dashboard) and the Apache "
            "site that serves it under /horizon, with mod_wsgi.",
        ),
        st.WriteFile(
            title="Configure the dashboard: section 7's settings",
            host=c,
            path=SETTINGS_SNIPPET,
            content=settings,
            why="Where Keystone is, sessions in memcached, the Default domain on the login "
            "form, and no routers on the provider network (section 7's edits). Debian reads "
            "local_settings.py, then local_settings.d/ in name order: this file comes last.",
        ),
        st.Command(
            title="Disable Apache's default-ssl site",
            host=c,
            command="a2dissite -q default-ssl",
            done_when=st.Check("file-absent", "/etc/apache2/sites-enabled/default-ssl.conf"),
            why="The package's postinst enables it without mod_ssl, and Apache then refuses "
            "its whole configuration ('Invalid command SSLEngine'). The lab serves plain HTTP.",
        ),
        st.Service(
            title="Start Apache (the dashboard lives in it)",
            host=c,
            name="apache2",
            restart_on=(SETTINGS_SNIPPET,),
        ),
        st.WaitHttp(
            title="Wait until the dashboard's login page answers",
            host=c,
            url=f"http://{ctx.controller.address}/horizon/auth/login/",
            timeout=120,
        ),
    ]


def after_install(backend: Any) -> list[str]:
    """On the sim: run the real Horizon on this machine with the controller's
    ``local_settings.py`` (what Apache does on a real controller). Nothing elsewhere."""
    if getattr(backend.env, "kind", "") != "sim":
        return []
    from labkit.horizon import server
    from labkit.sim import process

    state_dir = backend.paths.root
    settings_file = backend.client.file(backend.env.controller.name, LOCAL_SETTINGS)["content"]
    sim = process.running(backend.paths)
    running = server.running(state_dir)
    # LABKIT_HORIZON_PORT if set, else the port it already runs on, else 8080.
    port = server.port(None, running.port if running else None)
    if server.is_current(state_dir, settings_file, port):
        handle = server.running(state_dir)
        assert handle is not None
        return [f"dashboard: {handle.url} (already running)"]
    handle = server.start(state_dir, settings_file, port, watch_pid=sim.pid if sim else None)
    return [f"dashboard: {handle.url} (the real Horizon 23.0.0, pid {handle.pid})"]
