"""Layer 4a -- Placement, the resource ledger (Install Guide "placement-install-debian", Zed).

Placement keeps track of what each compute host has (its *inventory*: VCPUs, memory, disk)
and what is already taken (*allocations*). Nova's scheduler asks it which hosts have room
for a new server and claims the resources there before the server is built, so two servers
can never be promised the same last gigabyte. It needs a Keystone user of its own, like
every service that checks tokens.
"""

from __future__ import annotations

from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.service_auth import keystone_authtoken

NAME = "placement"
REQUIRES = ("keystone",)
CONF = "/etc/placement/placement.conf"
UWSGI = "/etc/placement/placement-api-uwsgi.ini"


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    url = ctx.placement_url
    database = f"mysql+pymysql://placement:PLACEMENT_DBPASS@{c}/placement"
    return [
        st.Database(
            title="Create the placement database",
            host=c,
            name="placement",
            user="placement",
            password="PLACEMENT_DBPASS",
        ),
        st.IdentityObjects(
            title="Create the placement user, the placement service and its endpoints",
            host=c,
            users=(("placement", "PLACEMENT_PASS"),),
            grants=(("service", "placement", "admin"),),
            services=(("placement", "placement", "Placement API"),),
            endpoints=(
                ("placement", "public", url),
                ("placement", "internal", url),
                ("placement", "admin", url),
            ),
            region=ctx.region,
            why="Placement checks every caller's token with Keystone as the user placement; "
            "nova-compute and nova-scheduler find Placement through the catalog.",
        ),
        st.Packages(
            title="Install the placement packages",
            host=c,
            names=("placement-api", "python3-osc-placement"),
            why="placement-api serves the Placement API on port 8778 under uwsgi; "
            "python3-osc-placement adds `openstack resource provider ...` to the CLI.",
        ),
        st.IniSet(
            title="Point placement.conf at its database",
            host=c,
            path=CONF,
            settings=(("placement_database", "connection", database),),
        ),
        st.IniSet(
            title="Configure Keystone authentication",
            host=c,
            path=CONF,
            settings=(
                ("api", "auth_strategy", "keystone"),
                *keystone_authtoken(ctx, "placement", "PLACEMENT_PASS"),
            ),
            why=f"Debian's placement.conf ships region_name = regionOne (lower-case r) while "
            f"Keystone's endpoints were registered in {ctx.region}: left as is, every "
            "authenticated request answers HTTP 500 (EndpointNotFound in the log). The guide "
            "does not set it; this plan does.",
        ),
        st.IniSet(
            title="Run 2 uwsgi processes of 4 threads instead of 8 of 32",
            host=c,
            path=UWSGI,
            settings=(
                ("uwsgi", "processes", "2"),
                ("uwsgi", "threads", "4"),
                ("uwsgi", "add-header", "Connection: close"),
            ),
            why="Debian starts 8 uwsgi workers of 32 threads; on a small lab host 2 start "
            "twice as fast and save ~700 MB (measured for Keystone, the same uwsgi setup); "
            "8 concurrent requests are plenty for a lab's few compute hosts. Connection: "
            "close, as for Keystone: Debian's ini strips Content-Length.",
        ),
        st.ProbeDatabase(
            title="Check that placement's database answers",
            host=c,
            url=database,
        ),
        st.Command(
            title="Create Placement's tables",
            host=c,
            user="placement",
            command="placement-manage db sync",
            done_when=st.Check("db-has-tables", "placement"),
        ),
        st.Service(
            title="Start the Placement API", host=c, name="placement-api", restart_on=(CONF, UWSGI)
        ),
        st.WaitHttp(title="Wait until Placement answers", host=c, url=url, timeout=90),
        st.Command(
            title="Verify: placement-status upgrade check",
            host=c,
            command="placement-status upgrade check",
            verify=True,
            why="The guide's verification: every check should say Success.",
        ),
    ]
