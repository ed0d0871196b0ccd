"""The later layers, one record each, grouped as notebook 08's sections.

Every fact here was checked upstream: process names against Debian 12's (Zed) packages, the
catalog types and config options against each project's Zed Install Guide (its ``zed-eom``
tag), the guide pages' paths against the same tag. Keep it that way when adding one.
"""

from __future__ import annotations

from labkit.beyond.model import DOCS, RELEASE, LaterLayer, Link, Process, install_guide
from labkit.layers import Port

_UBUNTU_PAGE = "Ubuntu's page: Zed's guide has none for Debian, whose packages have the same names"


LATER: tuple[LaterLayer, ...] = (
    # ---- networking -----------------------------------------------------------------------
    LaterLayer(
        key="neutron-selfservice",
        name="Neutron L3",
        title="self-service networks",
        group="networking",
        seed_layer=2,
        summary="project networks, routers, floating IPs",
        adds=(
            "Projects make their own private networks (VXLAN overlays between the hosts) and "
            "routers; a router connects them to the provider network with NAT, and a floating "
            "IP makes one server reachable from outside."
        ),
        seed_says=(
            "Neutron, advanced networking: tenant self-service networks; ports, subnets, "
            "routers; plugins for Linux Bridge, OVS and many SDNs"
        ),
        processes=(
            Process(
                "neutron-l3-agent",
                "controller",
                "a qrouter- namespace per router: NAT, floating IPs",
            ),
            Process(
                "neutron-linuxbridge-agent",
                "every host",
                "now also builds the VXLAN tunnels between the hosts",
            ),
        ),
        catalog_types=("network",),
        catalog_note="the same Neutron: no new entry",
        ports=(Port(4789, "VXLAN", "udp"),),
        guide=Link(
            "Networking Option 2: Self-service networks -- controller node",
            install_guide("neutron", "controller-install-option2-ubuntu.html"),
        ),
        pages=(
            Link(
                "Networking Option 2: Self-service networks -- compute node",
                install_guide("neutron", "compute-install-option2-ubuntu.html"),
            ),
            Link(
                "Networking Option 2: Self-service networks -- verify",
                install_guide("neutron", "verify-option2.html"),
            ),
            Link("Networking service Installation Guide", install_guide("neutron")),
        ),
        needs=("networking", "compute"),
        changes=(
            "neutron.conf: service_plugins = router; ml2_conf.ini: type_drivers = "
            "flat,vlan,vxlan, tenant_network_types = vxlan, mechanism_drivers = "
            "linuxbridge,l2population, [ml2_type_vxlan] vni_ranges = 1:1000",
            "linuxbridge_agent.ini on every host: [vxlan] enable_vxlan = true, local_ip = the "
            "host's own address (10.64.0.2, 10.64.0.3), l2_population = true",
            "the controller runs neutron-l3-agent (l3_agent.ini: interface_driver = "
            "linuxbridge); Debian's package pulls in keepalived, haproxy and radvd",
            "the network 'provider' is already --external: a router's gateway plugs into it "
            "and floating IPs come from its pool (10.64.0.100-199 in this lab)",
            "servers boot on a project network instead of 'provider'; to ssh in, give one a "
            "floating IP (openstack floating ip create provider; openstack server add "
            "floating ip)",
        ),
    ),
    LaterLayer(
        key="designate",
        name="Designate",
        title="DNS",
        group="networking",
        seed_layer=2,
        summary="DNS zones and records through an API",
        adds=(
            "DNS as a service: zones and records through an API, pushed to real DNS servers "
            "(BIND 9 in the guide); with Neutron's DNS integration a port's name becomes a "
            "record by itself."
        ),
        seed_says="Designate, DNS manager: reacts to Nova/Neutron events",
        processes=(
            Process("designate-api", "controller", "the DNS API (port 9001)"),
            Process("designate-central", "controller", "the logic and the database"),
            Process("designate-worker", "controller", "writes zones to the DNS servers"),
            Process("designate-producer", "controller", "periodic and long-running tasks"),
            Process("designate-mdns", "controller", "serves zone transfers to the DNS servers"),
            Process("bind9", "controller", "the DNS server that answers the queries"),
            Process(
                "designate-sink",
                "controller",
                "turns Nova and Neutron notifications into records (optional)",
            ),
        ),
        catalog_types=("dns",),
        ports=(Port(9001, "designate-api"), Port(53, "bind9", "udp"), Port(5354, "designate-mdns")),
        guide=Link("Installing OpenStack DNS as a Service", install_guide("designate")),
        pages=(
            Link(
                "Install and configure for Ubuntu",
                install_guide("designate", "install-ubuntu.html"),
            ),
            Link(
                "Neutron: DNS integration with an external service",
                f"{DOCS}/neutron/{RELEASE}/admin/config-dns-int-ext-serv.html",
            ),
        ),
        needs=("keystone", "networking"),
        changes=(
            "BIND 9 on the controller (or a host of its own), controlled by rndc, and a "
            "pools.yaml naming it, loaded with designate-manage pool update",
            "a designate database, user and dns endpoint (http://controller:9001/) in Keystone",
            "neutron.conf: external_dns_driver = designate and a [designate] section; a "
            "network with a dns_domain then gets an A record per port with a dns_name",
        ),
    ),
    LaterLayer(
        key="octavia",
        name="Octavia",
        title="load balancers",
        group="networking",
        seed_layer=2,
        summary="load balancers, each a small HAProxy server",
        adds=(
            "Load balancers as a service: a virtual IP spreading connections over a pool of "
            "servers, with health checks and TLS termination. Each load balancer is an "
            "'amphora', a small Nova server running HAProxy."
        ),
        seed_says="Neutron's advanced network services, such as load balancing",
        processes=(
            Process("octavia-api", "controller", "the load-balancer API (port 9876)"),
            Process("octavia-worker", "controller", "creates and configures the amphorae"),
            Process(
                "octavia-health-manager",
                "controller",
                "hears amphora heartbeats, fails over dead ones",
            ),
            Process(
                "octavia-housekeeping", "controller", "cleans up, rotates amphora certificates"
            ),
        ),
        catalog_types=("load-balancer",),
        ports=(Port(9876, "octavia-api"), Port(9443, "amphora agent")),
        guide=Link("Octavia Installation", install_guide("octavia")),
        pages=(
            Link(
                "Install and configure for Ubuntu", install_guide("octavia", "install-ubuntu.html")
            ),
        ),
        needs=("compute", "glance", "networking"),
        changes=(
            "an amphora image (amphora-x64-haproxy) in Glance and a flavor for the amphorae",
            "a management network, lb-mgmt-net, with a port bound to the controller and an "
            "interface into it, so the worker and health manager reach the amphorae (port 9443)",
            "certificates for the TLS between the controller and the amphorae",
            "every load balancer is a server: room on the workers (Barbican for TLS listeners)",
        ),
    ),
    # ---- storage --------------------------------------------------------------------------
    LaterLayer(
        key="cinder",
        name="Cinder",
        title="block storage",
        group="storage",
        seed_layer=2,
        summary="volumes that outlive servers",
        adds=(
            "Volumes: block devices that live apart from any server. Attach one to a server, "
            "detach it, attach it to another; snapshot it; boot from it, so the root disk "
            "survives the server (notebook 04's flavors give ephemeral disks)."
        ),
        seed_says=(
            "Cinder, persistent block storage: additional block devices which survive longer "
            "than VMs; typical use: database backends"
        ),
        processes=(
            Process("cinder-api", "controller", "the Block Storage API v3 (port 8776)"),
            Process("cinder-scheduler", "controller", "picks a back end for each volume"),
            Process(
                "cinder-volume", "storage node", "makes LVM volumes in the group cinder-volumes"
            ),
            Process("tgt", "storage node", "exports the volumes over iSCSI"),
            Process("cinder-backup", "storage node", "backs volumes up to Swift (optional)"),
        ),
        catalog_types=("volumev3",),
        catalog_note="official type: block-storage",
        ports=(Port(8776, "cinder-api"), Port(3260, "iSCSI (tgt)")),
        guide=Link("Cinder Installation Guide", install_guide("cinder")),
        pages=(
            Link(
                "Install and configure controller node (" + _UBUNTU_PAGE + ")",
                install_guide("cinder", "cinder-controller-install-ubuntu.html"),
            ),
            Link(
                "Install and configure a storage node",
                install_guide("cinder", "cinder-storage-install-ubuntu.html"),
            ),
            Link(
                "Using service tokens (required since bug 2004555)",
                f"{DOCS}/cinder/{RELEASE}/configuration/block-storage/service-token.html",
            ),
        ),
        needs=("keystone", "compute", "glance"),
        changes=(
            "a disk for the volumes on the storage node (a worker here): the guide's empty "
            "/dev/sdb, or a loop device in a lab; pvcreate, vgcreate cinder-volumes, and a "
            "filter in /etc/lvm/lvm.conf so the host does not scan the guests' volumes",
            "the controller: a cinder database, the cinderv3 service (volumev3) with its "
            "endpoints http://controller:8776/v3/%(project_id)s, cinder-api, cinder-scheduler",
            "the storage node: cinder-volume and tgt; cinder.conf: enabled_backends = lvm, "
            "[lvm] volume_driver = cinder.volume.drivers.lvm.LVMVolumeDriver, "
            "volume_group = cinder-volumes, target_protocol = iscsi, target_helper = tgtadm",
            "Nova: [cinder] os_region_name = RegionOne in nova.conf, nova-api restarted; "
            "Debian's nova-compute already depends on open-iscsi, which attaches the volumes",
            "service tokens: nova.conf and cinder.conf get [service_user] with "
            "send_service_user_token = true, as the Zed guide now requires",
            "then: openstack volume create --size 1 v1; openstack server add volume server1 "
            "v1; or openstack server create --image trusty --boot-from-volume 10 ... for a "
            "persistent root disk",
        ),
    ),
    LaterLayer(
        key="swift",
        name="Swift",
        title="object storage",
        group="storage",
        seed_layer=2,
        summary="objects of any size over HTTP, replicated",
        adds=(
            "Objects: files of any size in containers, stored and fetched over HTTP by URL, "
            "each kept three times on different disks and hosts; Glance can keep its images "
            "there and Cinder its backups."
        ),
        seed_says=(
            "Swift, object storage: REST API for storing/fetching objects of arbitrary size; "
            "built-in redundancy model; a backend for Glance, Cinder and others"
        ),
        processes=(
            Process("swift-proxy", "controller", "the API (port 8080): finds objects in the rings"),
            Process("swift-account", "storage node", "a project's list of containers (SQLite)"),
            Process("swift-container", "storage node", "a container's list of objects (SQLite)"),
            Process("swift-object", "storage node", "the objects, with replicator and auditor"),
            Process("rsync", "storage node", "moves replicas between the nodes"),
        ),
        catalog_types=("object-store",),
        ports=(
            Port(8080, "swift-proxy"),
            Port(6200, "object"),
            Port(6201, "container"),
            Port(6202, "account"),
            Port(873, "rsync"),
        ),
        guide=Link("Object Storage Install Guide", install_guide("swift")),
        pages=(
            Link(
                "Install and configure the controller node for Debian",
                install_guide("swift", "controller-install-debian.html"),
            ),
            Link(
                "Install and configure the storage nodes for Ubuntu and Debian",
                install_guide("swift", "storage-install-ubuntu-debian.html"),
            ),
            Link(
                "Create and distribute initial rings", install_guide("swift", "initial-rings.html")
            ),
        ),
        needs=("keystone",),
        changes=(
            "storage disks: the guide gives each storage node two empty disks (/dev/sdb, "
            "/dev/sdc), formatted XFS and mounted under /srv/node; a lab can use loop files",
            "no SQL database: account and container listings are SQLite files on the storage "
            "nodes, beside the objects",
            "three rings built on the controller with swift-ring-builder (account, container, "
            "object: create 10 3 1 = 2^10 partitions, 3 replicas), every disk added, "
            "rebalanced, and the *.ring.gz files copied to every node",
            "the object-store endpoint http://controller:8080/v1/AUTH_%(project_id)s; no "
            "change to Nova",
            "optional: Glance's images in Swift (glance_store's swift store) instead of "
            "/var/lib/glance/images/ on the controller",
        ),
    ),
    LaterLayer(
        key="manila",
        name="Manila",
        title="shared file systems",
        group="storage",
        seed_layer=4,
        summary="NFS/CIFS shares many servers mount at once",
        adds=(
            "Shared file systems: NFS (or CIFS) shares that many servers mount at once, with "
            "access rules per client address."
        ),
        seed_says="Manila, shared file system management",
        processes=(
            Process("manila-api", "controller", "the Shared File Systems API (port 8786)"),
            Process("manila-scheduler", "controller", "picks a back end for each share"),
            Process("manila-share", "share node", "makes the shares with its driver"),
        ),
        catalog_types=("share", "sharev2"),
        catalog_note="official type: shared-file-system",
        ports=(Port(8786, "manila-api"), Port(2049, "NFS")),
        guide=Link("Manila Installation Tutorial", install_guide("manila")),
        pages=(
            Link(
                "Install and configure controller node on Debian",
                install_guide("manila", "install-controller-debian.html"),
            ),
            Link(
                "Install and configure a share node running Debian",
                install_guide("manila", "install-share-debian.html"),
            ),
        ),
        needs=("keystone", "compute", "cinder", "neutron-selfservice"),
        changes=(
            "option 1, no share servers (driver_handles_share_servers = False): the share node "
            "exports LVM volumes of the group manila-volumes over NFS (lvm2, "
            "nfs-kernel-server), like Cinder's LVM back end",
            "option 2, the generic driver (True): each share network gets a share server, a "
            "Nova server with a Cinder volume on a self-service network: Cinder and Neutron "
            "option 2 first",
            "guests need an NFS client and a route to the share's export address",
        ),
    ),
    # ---- faces ----------------------------------------------------------------------------
    LaterLayer(
        key="horizon",
        name="Horizon",
        title="dashboard",
        group="faces",
        seed_layer=3,
        summary="a web UI over the same APIs",
        adds=(
            "A web dashboard: what the CLI does, in a browser, for the users who will never "
            "type openstack. It calls the same APIs the CLI calls, found in the same catalog."
        ),
        seed_says="Horizon, a web UI for OpenStack: talks to all services over their REST APIs",
        processes=(
            Process(
                "openstack-dashboard-apache",
                "controller",
                "Horizon (Django) under Apache at /horizon/",
            ),
        ),
        catalog_types=(),
        catalog_note="a client of the catalog, like the CLI",
        ports=(Port(80, "apache2 (http)"), Port(443, "apache2 (https)")),
        guide=Link("Horizon Installation Guide", install_guide("horizon")),
        pages=(
            Link(
                "Install and configure for Debian", install_guide("horizon", "install-debian.html")
            ),
            Link("Verify operation for Debian", install_guide("horizon", "verify-debian.html")),
        ),
        needs=("keystone", "base"),
        changes=(
            "Apache on the controller serves http://controller/horizon/ (Debian's package asks "
            "whether to take the web root instead, and makes a self-signed certificate)",
            "/etc/openstack-dashboard/local_settings.py: OPENSTACK_HOST = 'controller', "
            "ALLOWED_HOSTS, sessions in notebook 01's memcached",
            "Horizon calls the catalog's endpoints from the controller; only the noVNC console "
            "(port 6080) goes from the browser straight to Nova",
            "only Keystone is required: each panel appears when its service is in the catalog",
        ),
    ),
    LaterLayer(
        key="heat",
        name="Heat",
        title="orchestration",
        group="faces",
        seed_layer=4,
        summary="stacks of resources from a template",
        adds=(
            "Stacks: a YAML template (HOT) describes servers, networks, volumes and how they "
            "connect; Heat creates them in order, updates them when the template changes and "
            "deletes them together."
        ),
        seed_says="Heat, orchestrates 'stacks' of OpenStack resources",
        processes=(
            Process("heat-api", "controller", "the Orchestration API (port 8004)"),
            Process("heat-api-cfn", "controller", "the CloudFormation-compatible API (port 8000)"),
            Process("heat-engine", "controller", "turns templates into calls to the other APIs"),
        ),
        catalog_types=("orchestration", "cloudformation"),
        catalog_note="cloudformation: heat-api-cfn's AWS-style API",
        ports=(Port(8004, "heat-api"), Port(8000, "heat-api-cfn")),
        guide=Link("Installing Heat", install_guide("heat")),
        pages=(
            Link("Install and configure for Debian", install_guide("heat", "install-debian.html")),
            Link(
                "Launch an instance (with a stack)", install_guide("heat", "launch-instance.html")
            ),
        ),
        needs=("keystone", "compute", "networking"),
        changes=(
            "Keystone: a heat domain with a heat_domain_admin user, and the roles "
            "heat_stack_owner (for users who make stacks) and heat_stack_user",
            "heat.conf: database, RabbitMQ, Keystone and the stack domain; nothing changes "
            "on the workers",
            "what a template may create is what the cloud has: in this lab servers, ports and "
            "security groups -- volumes need Cinder, routers Neutron's L3",
        ),
    ),
    # ---- compute --------------------------------------------------------------------------
    LaterLayer(
        key="ironic",
        name="Ironic",
        title="bare metal",
        group="compute",
        seed_layer=2,
        summary="whole machines as servers",
        adds=(
            "Bare metal: whole physical machines handed out like servers. Nova schedules them; "
            "Ironic powers them on (IPMI, Redfish), boots a deploy ramdisk over the network "
            "and writes the image to their disk."
        ),
        seed_says="Ironic, adds bare metal support to Nova",
        processes=(
            Process("ironic-api", "controller", "the Bare Metal API (port 6385)"),
            Process(
                "ironic-conductor", "controller", "drives the machines: power, boot, deploy, clean"
            ),
            Process(
                "nova-compute", "controller", "one more, with compute_driver = ironic.IronicDriver"
            ),
        ),
        catalog_types=("baremetal",),
        ports=(Port(6385, "ironic-api"), Port(69, "tftp", "udp")),
        guide=Link("Bare Metal Service Installation Guide", install_guide("ironic")),
        pages=(
            Link(
                "Install and configure for Ubuntu", install_guide("ironic", "install-ubuntu.html")
            ),
            Link(
                "Configure the Compute service to use the Bare Metal service",
                install_guide("ironic", "configure-compute.html"),
            ),
            Link("Enrollment", install_guide("ironic", "enrollment.html")),
        ),
        needs=("keystone", "glance", "compute", "networking"),
        changes=(
            "machines with a BMC (IPMI or Redfish) the conductor can reach; for VMs, a BMC "
            "emulator (virtualbmc, sushy-tools) stands in",
            "a nova-compute with [DEFAULT] compute_driver = ironic.IronicDriver and an [ironic] "
            "section; each enrolled node becomes a Placement resource provider with one unit "
            "of its resource class",
            "flavors ask for that class (--property resources:CUSTOM_BAREMETAL_SMALL=1) and "
            "zero VCPU, MEMORY_MB and DISK_GB, instead of notebook 04's t-shirt sizes",
            "a deploy kernel and ramdisk (ironic-python-agent) in Glance, and a provisioning "
            "network with DHCP and PXE (TFTP or HTTP)",
        ),
    ),
    LaterLayer(
        key="magnum",
        name="Magnum",
        title="container orchestration",
        group="compute",
        seed_layer=4,
        summary="Kubernetes clusters on demand",
        adds=(
            "Kubernetes clusters on demand: a cluster template names an image, flavors and a "
            "network driver; Magnum has Heat build the servers, networks and load balancers, "
            "and hands back a kubeconfig."
        ),
        seed_says="Magnum, Kubernetes / container management",
        processes=(
            Process("magnum-api", "controller", "the Container Infrastructure API (port 9511)"),
            Process("magnum-conductor", "controller", "turns clusters into Heat stacks"),
        ),
        catalog_types=("container-infra",),
        catalog_note="official type: container-infrastructure-management",
        ports=(Port(9511, "magnum-api"),),
        guide=Link("Magnum Installation Guide", install_guide("magnum")),
        pages=(
            Link(
                "Install and configure for Debian",
                install_guide("magnum", "install-debian-manual.html"),
            ),
        ),
        needs=("heat", "compute", "glance", "neutron-selfservice"),
        changes=(
            "Heat first: every cluster is a Heat stack of servers, networks, security groups",
            "Keystone: a magnum domain with a magnum_domain_admin user (trustees for clusters)",
            "a Fedora CoreOS image in Glance with its os_distro property, and self-service "
            "networks with a router and floating IPs",
            "certificates in Barbican (cert_manager_type = barbican) or in Magnum's database "
            "(x509keypair)",
            "room: a cluster is several servers; the lab's two hosts would hold a small one",
        ),
    ),
    LaterLayer(
        key="trove",
        name="Trove",
        title="databases",
        group="compute",
        seed_layer=4,
        summary="databases as a service",
        adds=(
            "Databases as a service: a project asks for a MySQL, MariaDB or PostgreSQL "
            "instance; Trove boots the server, runs the database in it and manages users, "
            "backups and resizes."
        ),
        seed_says="Trove, MySQL db as a service",
        processes=(
            Process("trove-api", "controller", "the Database API (port 8779)"),
            Process(
                "trove-taskmanager", "controller", "builds instances with Nova, Cinder, Neutron"
            ),
            Process("trove-conductor", "controller", "records what the guest agents report"),
            Process("trove-guestagent", "in each database server", "runs the database (in Docker)"),
        ),
        catalog_types=("database",),
        ports=(Port(8779, "trove-api"),),
        guide=Link("Trove: Database service", install_guide("trove")),
        pages=(
            Link("Install and configure for Ubuntu", install_guide("trove", "install-ubuntu.html")),
            Link("Manual Trove Installation", install_guide("trove", "install-manual.html")),
        ),
        needs=("compute", "glance", "networking"),
        changes=(
            "a management network from the controller's Trove services to the guest agent in "
            "every database server, beside the project's own network",
            "a guest image with trove-guestagent and Docker in Glance, registered as a "
            "datastore version with trove-manage",
            "Cinder if the databases should live on volumes; Swift for backups and replication",
        ),
    ),
    # ---- operations -----------------------------------------------------------------------
    LaterLayer(
        key="barbican",
        name="Barbican",
        title="secrets",
        group="operations",
        seed_layer=3,
        summary="keys, passwords and certificates, stored encrypted",
        adds=(
            "Secrets: keys, passwords and certificates stored encrypted and handed out by "
            "reference. Nova and Cinder use it for encrypted volumes, Octavia for TLS "
            "certificates, Magnum for cluster certificates."
        ),
        seed_says="Barbican, key management",
        processes=(
            Process("barbican-api", "controller", "the Key Manager API (port 9311)"),
            Process("barbican-worker", "controller", "does the asynchronous work (orders)"),
            Process(
                "barbican-keystone-listener",
                "controller",
                "cleans up after Keystone events (deleted projects)",
            ),
        ),
        catalog_types=("key-manager",),
        ports=(Port(9311, "barbican-api"),),
        guide=Link("Barbican: Key Manager service", install_guide("barbican")),
        pages=(
            Link(
                "Install and configure for Ubuntu", install_guide("barbican", "install-ubuntu.html")
            ),
            Link(
                "Configure Secret Store Back-end",
                install_guide("barbican", "barbican-backend.html"),
            ),
        ),
        needs=("keystone",),
        changes=(
            "Keystone: a creator role -- Zed's default policy lets only admin and creator store "
            "secrets",
            "a secret store: the default simple_crypto plugin keeps its key-encryption key in "
            "barbican.conf -- fine for a lab; production uses an HSM (PKCS#11) or Vault",
            "Nova and Cinder: [key_manager] backend = barbican, for encrypted volumes",
        ),
    ),
    LaterLayer(
        key="telemetry",
        name="Ceilometer, Gnocchi, Aodh",
        title="telemetry",
        group="operations",
        seed_layer=3,
        summary="usage measured, stored as time series, alarms",
        adds=(
            "Measurements of what each project uses -- CPU time, disk and network I/O, image "
            "and volume sizes -- kept as time series (Gnocchi) for billing and capacity "
            "planning, and alarms on them (Aodh) that can scale a Heat stack."
        ),
        seed_says="Ceilometer, usage and metric collection",
        processes=(
            Process("ceilometer-agent-central", "controller", "polls the APIs"),
            Process(
                "ceilometer-agent-notification", "controller", "turns notifications into samples"
            ),
            Process("gnocchi-api", "controller", "the time-series API (port 8041)"),
            Process("gnocchi-metricd", "controller", "aggregates the measures"),
            Process("aodh-api", "controller", "the alarming API (port 8042)"),
            Process("aodh-evaluator", "controller", "checks alarms against the measures"),
            Process("aodh-notifier", "controller", "acts when an alarm fires"),
            Process("aodh-listener", "controller", "alarms on events"),
            Process("ceilometer-agent-compute", "every worker", "polls libvirt for each guest"),
        ),
        catalog_types=("metric", "alarming"),
        catalog_note="Gnocchi's and Aodh's; Ceilometer has no API of its own any more",
        ports=(Port(8041, "gnocchi-api"), Port(8042, "aodh-api")),
        guide=Link("Ceilometer Installation Guide", install_guide("ceilometer")),
        pages=(
            Link(
                "Install and Configure Controller Services",
                install_guide("ceilometer", "install-controller.html"),
            ),
            Link(
                "Install and Configure Compute Services",
                install_guide("ceilometer", "install-compute.html"),
            ),
            Link(
                "Aodh: Install and configure for Ubuntu",
                install_guide("aodh", "install-ubuntu.html"),
            ),
        ),
        needs=("compute", "keystone", "base"),
        changes=(
            "nova.conf on every worker: instance_usage_audit = True, "
            "instance_usage_audit_period = hour, [notifications] notify_on_state_change = "
            "vm_and_task_state, [oslo_messaging_notifications] driver = messagingv2",
            "RabbitMQ now carries notifications as well as RPC: more queues on the base layer",
            "Gnocchi needs a store for its time series: a local directory in the guide "
            "(driver = file), Ceph or Swift at scale",
            "Glance, Cinder, Neutron and Swift send notifications too once configured (the "
            "guide has a page for each)",
        ),
    ),
)
