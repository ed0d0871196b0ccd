"""The Debian 12 packages the simulated hosts know, and what installing each one leaves behind.

Like the real packages on a host without systemd (``real-install-notes.md`` section 1), they
install files and init scripts but start nothing and configure nothing: the Install Guide's
steps do that. Default config files carry Debian's real defaults where they matter -- MariaDB
and memcached listen on 127.0.0.1 only, keystone.conf points at SQLite, and glance-api.conf
says ``region_name = regionOne`` (lower-case r), the pitfall notebook 03 explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    size_kb: int = 100


_NOVA_CONF = """\
# Debian's nova.conf (abridged): the shipped values the Install Guide's steps override
[DEFAULT]
my_ip = 192.0.2.2
state_path = /var/lib/nova
[api_database]
connection = sqlite:////var/lib/nova/nova_api.sqlite
[database]
connection = sqlite:////var/lib/nova/novadb
[keystone_authtoken]
region_name = regionOne
[placement]
region_name = regionOne
username = =
[oslo_concurrency]
lock_path = /var/lock/nova
"""

_NOVA_COMPUTE_CONF = """\
[DEFAULT]
compute_driver = libvirt.LibvirtDriver
[libvirt]
virt_type = qemu
"""

_MARIADB_SERVER_CNF = """\
# Debian's 50-server.cnf (abridged)
[mysqld]
user                    = mysql
pid-file                = /run/mysqld/mysqld.pid
basedir                 = /usr
datadir                 = /var/lib/mysql
tmpdir                  = /tmp
bind-address            = 127.0.0.1
expire_logs_days        = 10
character-set-server    = utf8mb4
collation-server        = utf8mb4_general_ci
"""

_MEMCACHED_CONF = """\
# memcached default config file (Debian, abridged)
-d
logfile /var/log/memcached.log
-m 64
-p 11211
-u memcache
-l 127.0.0.1
-P /var/run/memcached/memcached.pid
"""

_CHRONY_CONF = """\
# Debian's chrony.conf (abridged)
confdir /etc/chrony/conf.d
pool 2.debian.pool.ntp.org iburst
sourcedir /run/chrony-dhcp
sourcedir /etc/chrony/sources.d
keyfile /etc/chrony/chrony.keys
driftfile /var/lib/chrony/chrony.drift
ntsdumpdir /var/lib/chrony
logdir /var/log/chrony
maxupdateskew 100.0
rtcsync
makestep 1 3
leapsectz right/UTC
"""

_KEYSTONE_CONF = """\
[DEFAULT]
log_dir = /var/log/keystone

[cache]

[database]
connection = sqlite:////var/lib/keystone/keystone.db

[fernet_tokens]

[identity]

[token]
provider = fernet
"""

_KEYSTONE_UWSGI = """\
[uwsgi]
master = true
plugins = python3,apparmor
processes = 8
threads = 32
lazy-apps = true
http-socket = :5000
wsgi-file = /usr/bin/keystone-wsgi-public
pidfile = /run/keystone/keystone.pid
"""

_GLANCE_API_CONF = """\
[DEFAULT]

[database]
connection = sqlite:////var/lib/glance/glance.sqlite
backend = sqlalchemy

[glance_store]

[keystone_authtoken]
www_authenticate_uri = http://localhost:5000
auth_url = http://localhost:5000
region_name = regionOne
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glance
password = ChangeMe

[paste_deploy]
flavor = keystone

[taskflow_executor]
conversion_format = raw
"""

# Debian's placement-common copies /usr/share/placement-common/placement.conf to /etc.
_PLACEMENT_CONF = """\
[DEFAULT]
pybasedir = /usr/lib/python3/dist-packages

[api]

[cors]

[keystone_authtoken]
auth_url = http://localhost:5000
project_name = service
project_domain_name = Default
username = placement
user_domain_name = Default
www_authenticate_uri = http://localhost:5000
region_name = regionOne
auth_type = password

[oslo_policy]
policy_dirs = /etc/placement/policy.d

[placement]

[placement_database]

[profiler]
"""

_PLACEMENT_UWSGI = """\
[uwsgi]
buffer-size = 65535
rem-header = Content-Length
master = true
thunder-lock = true
plugins = python3
lazy-apps = true
paste-logger = true
no-orphans = true
die-on-term = true
enable-threads = true
processes = 8
threads = 32
listen = 100
socket-timeout = 10
http-auto-chunked = true
http-chunked-input = true
http-raw-body = true
chmod-socket = 666
add-header = Connection: close
exit-on-reload = true
wsgi-manage-chunked-input = true
logto = /var/log/placement/placement-api.log
name = placement-api
uid = placement
gid = placement
chdir = /var/lib/placement
wsgi-file = /usr/bin/placement-api
"""

# Neutron (Debian 12: neutron 2:21.0.0, Zed). neutron-common's postinst copies these into
# /etc/neutron; its defaults are Debian's: Open vSwitch + VXLAN self-service networks, the
# router/metering/qos service plugins, SQLite, region_name = regionOne.
_NEUTRON_VERSION = "2:21.0.0-7+deb12u1"
_NEUTRON_CONF = """\
[DEFAULT]
auth_strategy = keystone
core_plugin = ml2
service_plugins = router,metering,qos
notify_nova_on_port_status_changes = True
notify_nova_on_port_data_changes = True
interface_driver = openvswitch

[agent]
root_helper = sudo neutron-rootwrap /etc/neutron/rootwrap.conf

[database]
connection = sqlite:///var/lib/neutron/neutrondb

[experimental]

[keystone_authtoken]
auth_url = http://localhost:5000
project_name = service
project_domain_name = Default
username = neutron
user_domain_name = Default
www_authenticate_uri = http://localhost:5000
region_name = regionOne
auth_type = password

[nova]
auth_type = password
project_domain_name = default
user_domain_name = default

[oslo_concurrency]
lock_path = /var/lock/neutron

[oslo_policy]
policy_file = /etc/neutron/policy.json
policy_dirs = /etc/neutron/policy.d

[quotas]
"""

_ML2_CONF = """\
[DEFAULT]

[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch,l2population
extension_drivers = port_security,qos

[ml2_type_flat]
flat_networks = external

[ml2_type_vxlan]
vni_ranges = 1:1000

[securitygroup]
enable_security_group = True
enable_ipset = True
"""

_DHCP_AGENT_INI = """\
[DEFAULT]
interface_driver = openvswitch
enable_isolated_metadata = True

[agent]

[ovs]
"""

_LINUXBRIDGE_AGENT_INI = """\
[DEFAULT]

[agent]

[linux_bridge]

[network_log]

[securitygroup]

[vxlan]
"""

_METADATA_AGENT_INI = """\
[DEFAULT]

[agent]

[cache]
"""

_NEUTRON_API_UWSGI = """\
[uwsgi]
buffer-size = 65535
rem-header = Content-Length
master = true
thunder-lock = true
plugins = python3
lazy-apps = true
paste-logger = true
no-orphans = true
die-on-term = true
enable-threads = true
processes = 8
threads = 32
listen = 100
add-header = Connection: close
paste = config:/etc/neutron/api-paste.ini
logto = /var/log/neutron/neutron-api.log
name = neutron-api
uid = neutron
gid = neutron
chdir = /var/lib/neutron
wsgi-file = /usr/bin/neutron-api
"""

KNOWN: dict[str, Package] = {
    p.name: p
    for p in [
        Package(
            "chrony",
            "4.3-2+deb12u1",
            {"/etc/chrony/chrony.conf": _CHRONY_CONF},
            ("chrony",),
            size_kb=650,
        ),
        Package(
            "mariadb-server",
            "1:10.11.6-0+deb12u1",
            {"/etc/mysql/mariadb.conf.d/50-server.cnf": _MARIADB_SERVER_CNF},
            ("mariadb",),
            depends=("mariadb-client",),
            size_kb=20000,
        ),
        Package("mariadb-client", "1:10.11.6-0+deb12u1", size_kb=9000),
        Package("python3-pymysql", "1.0.2-2", size_kb=250),
        Package(
            "rabbitmq-server",
            "3.10.8-1.1",
            services=("rabbitmq-server",),
            depends=("erlang-base",),
            size_kb=16000,
        ),
        Package("erlang-base", "1:25.2.3+dfsg-1", size_kb=30000),
        Package(
            "memcached",
            "1.6.18-1",
            {"/etc/memcached.conf": _MEMCACHED_CONF},
            ("memcached",),
            size_kb=400,
        ),
        Package("python3-memcache", "1.59-7", size_kb=60),
        Package(
            "python3-openstackclient", "6.0.0-4", depends=("python3-openstacksdk",), size_kb=3500
        ),
        Package("python3-openstacksdk", "0.101.0-2", size_kb=6000),
        Package("crudini", "0.9.3-4", size_kb=60),
        Package(
            "keystone",
            "2:22.0.0-2",
            {
                "/etc/keystone/keystone.conf": _KEYSTONE_CONF,
                "/etc/keystone/keystone-uwsgi.ini": _KEYSTONE_UWSGI,
            },
            ("keystone",),
            depends=("python3-keystone",),
            size_kb=900,
        ),
        Package("python3-keystone", "2:22.0.0-2", size_kb=9000),
        Package("glance", "2:25.0.0-2", depends=("glance-api", "glance-common"), size_kb=40),
        Package(
            "glance-api",
            "2:25.0.0-2",
            {"/etc/glance/glance-api.conf": _GLANCE_API_CONF},
            ("glance-api",),
            depends=("glance-common",),
            size_kb=600,
        ),
        Package("glance-common", "2:25.0.0-2", depends=("python3-glance",), size_kb=300),
        Package("python3-glance", "2:25.0.0-2", size_kb=8000),
        Package(
            "neutron-server",
            _NEUTRON_VERSION,
            depends=("neutron-api", "neutron-rpc-server"),
            size_kb=10,
        ),
        Package(
            "neutron-api",
            _NEUTRON_VERSION,
            {"/etc/neutron/neutron-api-uwsgi.ini": _NEUTRON_API_UWSGI},
            ("neutron-api",),
            depends=("neutron-common",),
            size_kb=140,
        ),
        Package(
            "neutron-rpc-server",
            _NEUTRON_VERSION,
            services=("neutron-rpc-server",),
            depends=("neutron-common",),
            size_kb=35,
        ),
        Package(
            "neutron-common",
            _NEUTRON_VERSION,
            {
                "/etc/neutron/neutron.conf": _NEUTRON_CONF,
                "/etc/neutron/plugins/ml2/ml2_conf.ini": _ML2_CONF,
                "/etc/neutron/dhcp_agent.ini": _DHCP_AGENT_INI,
            },
            depends=("python3-neutron",),
            size_kb=590,
        ),
        Package("python3-neutron", _NEUTRON_VERSION, size_kb=17800),
        Package(
            "neutron-linuxbridge-agent",
            _NEUTRON_VERSION,
            {"/etc/neutron/plugins/ml2/linuxbridge_agent.ini": _LINUXBRIDGE_AGENT_INI},
            ("neutron-linuxbridge-agent",),
            depends=("neutron-common",),
            size_kb=50,
        ),
        Package(
            "neutron-dhcp-agent",
            _NEUTRON_VERSION,
            services=("neutron-dhcp-agent",),
            depends=("neutron-common",),
            size_kb=80,
        ),
        Package(
            "neutron-metadata-agent",
            _NEUTRON_VERSION,
            {"/etc/neutron/metadata_agent.ini": _METADATA_AGENT_INI},
            ("neutron-metadata-agent",),
            depends=("neutron-common",),
            size_kb=160,
        ),
        Package(
            "placement-api",
            "8.0.0-2",
            {"/etc/placement/placement-api-uwsgi.ini": _PLACEMENT_UWSGI},
            ("placement-api",),
            depends=("placement-common",),
            size_kb=151,
        ),
        Package(
            "placement-common",
            "8.0.0-2",
            {"/etc/placement/placement.conf": _PLACEMENT_CONF},
            depends=("python3-placement",),
            size_kb=185,
        ),
        Package("python3-placement", "8.0.0-2", size_kb=1400),
        Package(
            "python3-osc-placement", "4.0.0-2", depends=("python3-openstackclient",), size_kb=300
        ),
        # Nova (Zed = 26.x on Debian 12). nova.conf carries Debian's shipped defaults that
        # break the lab until the plan overrides them (real-install-notes, pitfall 5).
        Package(
            "nova-common",
            "2:26.2.2-1",
            {"/etc/nova/nova.conf": _NOVA_CONF},
            depends=("python3-nova",),
            size_kb=400,
        ),
        Package("python3-nova", "2:26.2.2-1", size_kb=14000),
        # Debian's nova-api ships two init scripts: nova-api (the compute API, uwsgi on
        # :8774) and nova-api-metadata (the metadata API, uwsgi on :8775).
        Package(
            "nova-api",
            "2:26.2.2-1",
            {},
            ("nova-api", "nova-api-metadata"),
            depends=("nova-common",),
        ),
        Package("nova-conductor", "2:26.2.2-1", {}, ("nova-conductor",), depends=("nova-common",)),
        Package("nova-scheduler", "2:26.2.2-1", {}, ("nova-scheduler",), depends=("nova-common",)),
        Package(
            "nova-compute",
            "2:26.2.2-1",
            {"/etc/nova/nova-compute.conf": _NOVA_COMPUTE_CONF},
            ("nova-compute",),
            depends=("nova-common", "libvirt-daemon-system", "qemu-system-x86"),
            size_kb=300,
        ),
        Package(
            "libvirt-daemon-system", "9.0.0-4", {}, ("libvirtd", "virtlogd", "dbus"), size_kb=3000
        ),
        Package("qemu-system-x86", "1:7.2+dfsg-7", size_kb=40000),
    ]
}


def resolve(names: tuple[str, ...]) -> list[Package]:
    """Packages to install for ``names``, dependencies first. Raises KeyError(name)."""
    order: list[Package] = []

    def visit(name: str) -> None:
        package = KNOWN[name]
        for dep in package.depends:
            visit(dep)
        if package not in order:
            order.append(package)

    for name in names:
        visit(name)
    return order
