"""Layer 2 -- Keystone, the identity service (Install Guide "keystone-install").

Keystone answers "who are you, and what may you do where?": it checks passwords, hands out
tokens scoped to a project, and publishes the catalog of every service's endpoints.
"""

from __future__ import annotations

from labkit.cloud import Credentials
from labkit.install import steps as st
from labkit.install.context import PlanContext

NAME = "keystone"
REQUIRES = ("base",)
CONF = "/etc/keystone/keystone.conf"
UWSGI = "/etc/keystone/keystone-uwsgi.ini"


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    settings: list[tuple[str, str, str]] = [
        ("database", "connection", f"mysql+pymysql://keystone:KEYSTONE_DBPASS@{c}/keystone"),
        ("token", "provider", "fernet"),
        ("cache", "enabled", "true"),
        ("cache", "backend", "oslo_cache.memcache_pool"),
        ("cache", "memcache_servers", f"{c}:11211"),
    ]
    if ctx.hash_rounds is not None:
        settings.append(("identity", "password_hash_rounds", str(ctx.hash_rounds)))
    url = ctx.identity_url
    return [
        st.Database(
            title="Create the keystone database",
            host=c,
            name="keystone",
            user="keystone",
            password="KEYSTONE_DBPASS",
        ),
        st.Packages(
            title="Install the keystone packages",
            host=c,
            names=("keystone",),
            why="Debian runs Keystone under uwsgi on port 5000; no Apache needed.",
        ),
        st.IniSet(
            title="Configure keystone.conf",
            host=c,
            path=CONF,
            settings=tuple(settings),
            why="Where the database is, and Fernet tokens. "
            + (
                "The sim lowers bcrypt's cost from 12 to "
                f"{ctx.hash_rounds} so a login takes milliseconds."
                if ctx.hash_rounds is not None
                else ""
            ),
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
            why="Measured: halves Keystone's start time and saves ~700 MB on a small lab host. "
            "Connection: close because Debian's ini strips Content-Length (rem-header): a "
            "client that keeps the connection for its next request gets 'Connection reset by "
            "peer' and has to retry (neutron-api's ini already says so).",
        ),
        st.ProbeDatabase(
            title="Check that keystone's database answers",
            host=c,
            url=f"mysql+pymysql://keystone:KEYSTONE_DBPASS@{c}/keystone",
        ),
        st.Command(
            title="Create Keystone's tables",
            host=c,
            user="keystone",
            command="keystone-manage db_sync",
            done_when=st.Check("db-has-tables", "keystone"),
        ),
        st.Command(
            title="Create the Fernet key repository",
            host=c,
            command="keystone-manage fernet_setup --keystone-user keystone "
            "--keystone-group keystone",
            done_when=st.Check("dir-not-empty", "/etc/keystone/fernet-keys"),
            why="Tokens are encrypted with these keys; nothing else stores them.",
        ),
        st.Command(
            title="Create the credential key repository",
            host=c,
            command="keystone-manage credential_setup --keystone-user keystone "
            "--keystone-group keystone",
            done_when=st.Check("dir-not-empty", "/etc/keystone/credential-keys"),
        ),
        st.Command(
            title="Bootstrap: admin user, admin project, roles, identity endpoints",
            host=c,
            command=(
                "keystone-manage bootstrap --bootstrap-password ADMIN_PASS "
                f"--bootstrap-admin-url {url} --bootstrap-internal-url {url} "
                f"--bootstrap-public-url {url} --bootstrap-region-id {ctx.region}"
            ),
            done_when=st.Check("keystone-user", "admin"),
        ),
        st.Service(title="Start Keystone", host=c, name="keystone", restart_on=(CONF, UWSGI)),
        st.WaitHttp(title="Wait until Keystone answers", host=c, url=url, timeout=90),
        st.IdentityObjects(
            title="Create the service and demo projects, the demo user",
            host=c,
            projects=(("service", "Service Project"), ("demo", "Demo Project")),
            users=(("demo", "DEMO_PASS"),),
            grants=(("demo", "demo", "member"),),
            region=ctx.region,
            why="Services get their users in 'service'; 'demo' is where a learner works.",
        ),
        st.WriteFile(
            title="Write admin-openrc on the controller",
            host=c,
            path="/root/admin-openrc",
            mode="0600",
            content=openrc("admin", "ADMIN_PASS", "admin", url, ctx.region),
        ),
        st.WriteFile(
            title="Write demo-openrc on the controller",
            host=c,
            path="/root/demo-openrc",
            mode="0600",
            content=openrc("demo", "DEMO_PASS", "demo", url, ctx.region),
        ),
    ]


def openrc(user: str, password: str, project: str, auth_url: str, region: str) -> str:
    """The openrc file the controller keeps (same lines as `labkit openrc`)."""
    return Credentials(auth_url, user, password, project, region).openrc()
