"""Layer 5a -- Nova on the controller (Install Guide "nova-controller-install", Zed, Debian).

Nova runs servers. On the controller live the parts that decide: nova-api takes requests,
nova-scheduler picks a host, nova-conductor turns a decision into a server in a cell. They
talk over RabbitMQ, keep state in three databases (nova_api for what the cloud shares, nova
for cell1 where servers live, nova_cell0 for servers that never found a host), and reach
Placement, Glance and Neutron over HTTP with their own Keystone users.
"""

from __future__ import annotations

from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.service_auth import keystone_authtoken, login

NAME = "nova-controller"
REQUIRES = ("glance", "placement", "networking")
CONF = "/etc/nova/nova.conf"
UWSGI = "/etc/nova/nova-api-uwsgi.ini"
METADATA_UWSGI = "/etc/nova/nova-api-metadata-uwsgi.ini"
# The Install Guide's minimal flavor, and the classic t-shirt sizes (name, id, vCPU, MB, GB).
FLAVORS: tuple[tuple[str, str, int, int, int], ...] = (
    ("m1.nano", "0", 1, 64, 1),
    ("m1.tiny", "1", 1, 512, 1),
    ("m1.small", "2", 1, 2048, 20),
    ("m1.medium", "3", 2, 4096, 40),
    ("m1.large", "4", 4, 8192, 80),
    ("m1.xlarge", "5", 8, 16384, 160),
)


def db_url(host: str, name: str) -> str:
    return f"mysql+pymysql://nova:NOVA_DBPASS@{host}/{name}"


def common_settings(ctx: PlanContext, my_ip: str) -> tuple[tuple[str, str, str], ...]:
    """The nova.conf every Nova host needs: RabbitMQ, Keystone, Glance, Placement, Neutron.
    Also what the nova-compute layer writes on each worker."""
    c = ctx.controller.name
    return (
        ("DEFAULT", "transport_url", f"rabbit://openstack:RABBIT_PASS@{c}:5672/"),
        ("DEFAULT", "my_ip", my_ip),
        ("api", "auth_strategy", "keystone"),
        *keystone_authtoken(ctx, "nova", "NOVA_PASS", slash=True),
        ("service_user", "send_service_user_token", "true"),
        ("service_user", "auth_strategy", "keystone"),
        *login(ctx, "service_user", "nova", "NOVA_PASS"),
        ("vnc", "enabled", "true"),
        ("vnc", "server_listen", "$my_ip"),
        ("vnc", "server_proxyclient_address", "$my_ip"),
        ("glance", "api_servers", ctx.image_url),
        ("oslo_concurrency", "lock_path", "/var/lib/nova/tmp"),
        *login(ctx, "placement", "placement", "PLACEMENT_PASS"),
        *login(ctx, "neutron", "neutron", "NEUTRON_PASS"),
        # Debian ships os_region_name = regionOne here too; the lab has no Cinder yet, but a
        # volume attach later would look for it in the wrong region.
        ("cinder", "os_region_name", ctx.region),
    )


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    compute = ctx.compute_url
    steps: list[st.Step] = [
        *(
            st.Database(
                title=f"Create the {name} database",
                host=c,
                name=name,
                user="nova",
                password="NOVA_DBPASS",
            )
            for name in ("nova_api", "nova", "nova_cell0")
        ),
        st.IdentityObjects(
            title="Create the nova user, the compute service and its endpoints",
            host=c,
            users=(("nova", "NOVA_PASS"),),
            grants=(("service", "nova", "admin"),),
            services=(("nova", "compute", "OpenStack Compute"),),
            endpoints=(
                ("compute", "public", compute),
                ("compute", "internal", compute),
                ("compute", "admin", compute),
            ),
            region=ctx.region,
            why="Nova checks every caller's token as the user nova, and uses the same "
            "user to talk to Glance and to send service tokens.",
        ),
        st.Packages(
            title="Install nova-api, nova-conductor and nova-scheduler",
            host=c,
            names=("nova-api", "nova-conductor", "nova-scheduler"),
            why="Debian installs them stopped and unconfigured. The nova-api package brings "
            "two services: nova-api (the compute API, port 8774) and nova-api-metadata (what "
            "guests learn about themselves, port 8775).",
        ),
        st.IniSet(
            title="Point nova.conf at its databases",
            host=c,
            path=CONF,
            settings=(
                ("api_database", "connection", db_url(c, "nova_api")),
                ("database", "connection", db_url(c, "nova")),
            ),
            why="Debian ships SQLite files here; the API database holds what the whole "
            "cloud shares, the nova database is cell1, where servers live.",
        ),
        st.IniSet(
            title="Configure RabbitMQ, Keystone, Glance, Placement and Neutron access",
            host=c,
            path=CONF,
            settings=common_settings(ctx, ctx.controller.address),
            why="Debian's nova.conf ships region_name = regionOne, '[placement] username "
            "= =' and my_ip = 192.0.2.2: each would break the lab, so each is set. "
            "[placement] and [neutron] are the logins Nova uses to call those services.",
        ),
        st.IniSet(
            title="Let the metadata API trust Neutron's metadata proxy",
            host=c,
            path=CONF,
            settings=(
                ("neutron", "service_metadata_proxy", "true"),
                ("neutron", "metadata_proxy_shared_secret", "METADATA_SECRET"),
            ),
            why="Guests ask 169.254.169.254 for their name, SSH key and user data; Neutron's "
            "metadata agent passes the question on with the guest's instance id, signed with "
            "this secret. It must be the one in metadata_agent.ini: with another one, Nova "
            "answers 403 and guests boot without their key.",
        ),
        st.IniSet(
            title="Run nova-api with 2 uwsgi processes of one thread each",
            host=c,
            path=UWSGI,
            settings=(
                ("uwsgi", "processes", "2"),
                ("uwsgi", "threads", "1"),
                ("uwsgi", "add-header", "Connection: close"),
            ),
            why="Debian ships 8 processes x 32 threads. Eight workers each load all of Nova: "
            "on a small lab host that is ~1 GB. Nova's API code is eventlet-patched, like "
            "Neutron's, and uwsgi's threads do not mix with it: one thread per process. "
            "Connection: close, as for Keystone: Debian's ini strips Content-Length.",
        ),
        st.IniSet(
            title="Run nova-api-metadata with 2 uwsgi processes of one thread each",
            host=c,
            path=METADATA_UWSGI,
            settings=(
                ("uwsgi", "processes", "2"),
                ("uwsgi", "threads", "1"),
                ("uwsgi", "add-header", "Connection: close"),
            ),
            why="The metadata API is the same Nova code behind port 8775; the same bounds.",
        ),
        st.ProbeDatabase(
            title="Check that the nova_api database answers", host=c, url=db_url(c, "nova_api")
        ),
        st.Command(
            title="Create the API database's tables",
            host=c,
            user="nova",
            command="nova-manage api_db sync",
            done_when=st.Check("db-has-tables", "nova_api"),
        ),
        st.Command(
            title="Register cell0, where servers that never found a host go",
            host=c,
            user="nova",
            command="nova-manage cell_v2 map_cell0",
            done_when=st.Check(
                "sql-row", "nova_api:SELECT COUNT(*) FROM cell_mappings WHERE name='cell0'"
            ),
        ),
        st.Command(
            title="Create cell1, the cell every compute host joins",
            host=c,
            user="nova",
            command="nova-manage cell_v2 create_cell --name=cell1 --verbose",
            done_when=st.Check(
                "sql-row", "nova_api:SELECT COUNT(*) FROM cell_mappings WHERE name='cell1'"
            ),
        ),
        st.Command(
            title="Create the cell databases' tables",
            host=c,
            user="nova",
            command="nova-manage db sync",
            done_when=st.Check("db-has-tables", "nova"),
        ),
        st.Command(
            title="Verify: cell0 and cell1 are registered",
            host=c,
            user="nova",
            command="nova-manage cell_v2 list_cells",
            done_when=st.Check("sql-row", "nova_api:SELECT COUNT(*) = 2 FROM cell_mappings"),
        ),
        st.Service(title="Start nova-api", host=c, name="nova-api", restart_on=(CONF, UWSGI)),
        st.Service(
            title="Start nova-api-metadata",
            host=c,
            name="nova-api-metadata",
            restart_on=(CONF, METADATA_UWSGI),
        ),
        *(
            st.Service(title=f"Start {name}", host=c, name=name, restart_on=(CONF,))
            for name in ("nova-scheduler", "nova-conductor")
        ),
        st.WaitHttp(title="Wait until nova-api answers", host=c, url=compute, timeout=120),
        st.Flavors(
            title="Create the flavors: m1.nano and the classic t-shirt sizes",
            host=c,
            flavors=FLAVORS,
            why="A flavor is a server's size: vCPUs, RAM, root disk. The guide makes m1.nano; "
            "the seed talk boots m1.medium.",
        ),
    ]
    return steps
