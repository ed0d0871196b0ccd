"""What a production cloud does differently from this lab, and the tools people deploy with.

Introduced in notebooks/08-beyond.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.beyond.model import DOCS, RELEASE, Link

# ---- production ---------------------------------------------------------------------------

HA_GUIDE = f"{DOCS}/ha-guide/"


@dataclass(frozen=True)
class ProductionPoint:
    topic: str
    lab: str  # what this lab does
    production: str  # what a production cloud does instead
    read: Link


PRODUCTION: tuple[ProductionPoint, ...] = (
    ProductionPoint(
        "controllers",
        "one controller",
        "three or more (an odd number, for quorum); any one can fail",
        Link("High Availability Guide", HA_GUIDE),
    ),
    ProductionPoint(
        "API endpoints",
        "each service on the controller's address",
        "HAProxy on every controller behind a virtual IP that keepalived (VRRP) or "
        "Pacemaker moves; the catalog's URLs name the virtual IP",
        Link("HA Guide: stateless services", f"{HA_GUIDE}control-plane-stateless.html"),
    ),
    ProductionPoint(
        "database",
        "one MariaDB",
        "a MariaDB Galera cluster of three, synchronous multi-master; HAProxy usually sends "
        "the writes to one node at a time",
        Link("HA Guide: stateful services", f"{HA_GUIDE}control-plane-stateful.html"),
    ),
    ProductionPoint(
        "message queue",
        "one RabbitMQ",
        "a RabbitMQ cluster of three with quorum queues (oslo.messaging: "
        "[oslo_messaging_rabbit] rabbit_quorum_queue = true, there since Yoga); the classic "
        "mirrored queues older guides set up are gone from RabbitMQ 4",
        Link("RabbitMQ: quorum queues", "https://www.rabbitmq.com/docs/quorum-queues"),
    ),
    ProductionPoint(
        "memcached",
        "one memcached",
        "one per controller, all listed in memcached_servers: it is a cache, nothing to replicate",
        Link("HA Guide: Memcached", f"{HA_GUIDE}intro-os-ha-memcached.html"),
    ),
    ProductionPoint(
        "routers",
        "none: one flat provider network",
        "HA routers (VRRP between L3 agents, l3_ha = True), distributed routers (DVR) or OVN",
        Link(
            "Neutron: Linux bridge: High availability using VRRP",
            f"{DOCS}/neutron/{RELEASE}/admin/deploy-lb-ha-vrrp.html",
        ),
    ),
    ProductionPoint(
        "TLS",
        "plain HTTP everywhere (http://controller:5000), passwords in clear in config files",
        "TLS on every public endpoint (ended at HAProxy); 'TLS everywhere' also on internal "
        "endpoints, MariaDB and RabbitMQ; certificates from the operator's CA",
        Link(
            "Security Guide: secure communication",
            f"{DOCS}/security-guide/secure-communication.html",
        ),
    ),
    ProductionPoint(
        "Fernet keys",
        "one key repository on the controller (notebook 02)",
        "the same repository on every controller: rotate on one, copy to the others",
        Link(
            "Keystone: Fernet - Frequently Asked Questions",
            f"{DOCS}/keystone/{RELEASE}/admin/fernet-token-faq.html",
        ),
    ),
    ProductionPoint(
        "a worker dies",
        "its servers stay down",
        "an operator evacuates them (nova evacuate), or Masakari restarts them elsewhere",
        Link("HA Guide: compute nodes", f"{HA_GUIDE}compute-node-ha.html"),
    ),
)


@dataclass(frozen=True)
class DeploymentTool:
    name: str
    how: str
    status: str
    docs: Link


DEPLOYMENT_TOOLS: tuple[DeploymentTool, ...] = (
    DeploymentTool(
        "Kolla-Ansible",
        "every service in a container (Kolla's images), deployed by Ansible; sets up HAProxy "
        "with keepalived, Galera and a RabbitMQ cluster",
        "active; quorum queues by default since 2023.2",
        Link("Kolla-Ansible", f"{DOCS}/kolla-ansible/latest/"),
    ),
    DeploymentTool(
        "OpenStack-Ansible",
        "services from source in Python virtualenvs, on the hosts or in LXC containers, "
        "deployed by Ansible",
        "active",
        Link("OpenStack-Ansible", f"{DOCS}/openstack-ansible/latest/"),
    ),
    DeploymentTool(
        "Charmed OpenStack",
        "Juju charms on machines MAAS provisions (Canonical, Ubuntu packages)",
        "active",
        Link("OpenStack Charm Guide", f"{DOCS}/charm-guide/latest/"),
    ),
    DeploymentTool(
        "OpenStack-Helm",
        "Helm charts: OpenStack's services on Kubernetes",
        "active",
        Link("OpenStack-Helm", f"{DOCS}/openstack-helm/latest/"),
    ),
    DeploymentTool(
        "TripleO",
        "OpenStack deployed by OpenStack: Heat and Ironic on an 'undercloud' install the "
        "'overcloud'",
        "not maintained after Wallaby: the team dropped Zed in February 2023; retired in "
        "January 2024",
        Link(
            "openstack-discuss, February 2023",
            "https://lists.openstack.org/pipermail/openstack-discuss/2023-February/032238.html",
        ),
    ),
    DeploymentTool(
        "DevStack",
        "one script from git, for developers and CI -- the sim's URL paths come from it",
        "active; not for production",
        Link("DevStack", f"{DOCS}/devstack/latest/"),
    ),
)

MINIMAL_GUIDE = Link(
    "Install Guide: minimal deployment, then Horizon and Cinder",
    f"{DOCS}/install-guide/openstack-services.html",
)
