"""Nova's errors: why a server did not boot, or a request was refused.

Patterns match the error text: what openstacksdk raised, what the CLI printed, a server's
fault message, or a line of a Nova service's log.

Introduced in notebooks/04-nova.
"""

from __future__ import annotations

from labkit.explain import pattern_entries

# (name, pattern, layer, title, cause, fix), most specific first.
_KNOWN = (
    (
        "nova.host-not-mapped",
        r"Host '(?P<host>[\w.-]+)' is not mapped to any cell",
        "compute",
        "The chosen compute host was never mapped to a cell",
        "The scheduler picked {host}, but the conductor could not find it in the API "
        "database's host mappings: `nova-manage cell_v2 discover_hosts` has not run since "
        "nova-compute started on {host}. The server was buried in cell0.",
        'On the controller: `su -s /bin/sh -c "nova-manage cell_v2 discover_hosts --verbose" '
        "nova` (labkit's nova-compute layer ends with it), then boot again.",
    ),
    (
        "nova.no-valid-host",
        r"No valid host was found",
        "compute",
        "No compute host could take the server",
        "The scheduler found no host: Placement offered none with enough free VCPU, "
        "MEMORY_MB and DISK_GB for the flavor, or the filters dropped every one it offered "
        "(ComputeFilter drops hosts whose nova-compute is down or disabled).",
        "`openstack compute service list` (is a nova-compute up?), `openstack hypervisor "
        "list`, `openstack allocation candidate list --resource VCPU=N --resource "
        "MEMORY_MB=M`; pick a smaller flavor or free resources. In a notebook, "
        "lab.scheduler_decision(server) shows which filter dropped which host.",
    ),
    (
        "nova.quota-several",
        r"Quota exceeded for (?P<resources>\w+(?:, \w+)+): Requested (?P<req>\d+(?:, \d+)+), "
        r"but already used (?P<used>\d+(?:, \d+)+) of (?P<limit>\d+(?:, \d+)+)",
        "projects",
        "The request would go past several quotas at once: {resources}",
        "Nova counted what the project holds and added the request: {resources} would each go "
        "past its limit ({limit}, in that order); {used} are in use and the request asks for "
        "{req} more. Nothing was created.",
        "Ask for fewer or smaller servers, delete servers you no longer need (`openstack "
        "server list`; ERROR ones count too), or as admin raise the limits: `openstack quota "
        "set --cores N --ram MB --instances N PROJECT`. In a notebook, "
        "lab.will_it_fit(project, flavor, count) answers before you boot.",
    ),
    (
        "nova.quota",
        r"Quota exceeded for (?P<resource>\w+): Requested (?P<req>\d+), but already used "
        r"(?P<used>\d+) of (?P<limit>\d+)",
        "projects",
        "The project is at its {resource} quota",
        "The project may use {limit} {resource}; {used} are in use and the request asks for "
        "{req} more. Nothing was created.",
        "Delete servers you no longer need (`openstack server list`; ERROR ones count too), or "
        "as admin raise it: `openstack quota set --{resource} N PROJECT`. In a notebook, "
        "lab.will_it_fit(project, flavor, count) answers before you boot.",
    ),
    (
        "nova.port-limit",
        r"Maximum number of ports exceeded",
        "networking",
        "The project has no Neutron port left for the server",
        "Before it makes anything, nova-api asks Neutron how many ports the project may still "
        "create (validate_networks): each server needs one per network, and the project's "
        "port quota is used up. Nothing was created.",
        "`openstack quota show --usage PROJECT` (port); delete ports nobody uses (`openstack "
        "port list`), or as admin `openstack quota set --ports N PROJECT`.",
    ),
    (
        "nova.keypair-quota",
        r"Quota exceeded, too many key pairs",
        "projects",
        "The user has as many key pairs as the key_pairs quota allows",
        "Key pairs belong to a user, but the limit is the key_pairs quota of the project the "
        "token is scoped to (100 by default).",
        "`openstack keypair list`; delete the ones you no longer use, or as admin `openstack "
        "quota set --key-pairs N PROJECT`.",
    ),
    (
        "nova.flavor-not-found",
        r"Flavor (?P<flavor>\S+) could not be found",
        "compute",
        "There is no flavor {flavor}",
        "Flavors are the sizes servers come in; this cloud has none by that name or id.",
        "`openstack flavor list`; labkit's nova-controller layer creates m1.nano and "
        "m1.tiny ... m1.xlarge.",
    ),
    (
        "nova.image-not-active",
        r"Image (?P<image>\S+) is not active|Image \S+ is unacceptable",
        "glance",
        "The image cannot be booted yet (or any more)",
        "Nova boots only active images: this one is still queued/importing, was "
        "deactivated, or was deleted while the server was being built.",
        "`openstack image show IMAGE -c status`; wait for active or upload it again.",
    ),
    (
        "nova.flavor-too-small",
        r"Flavor's (?:disk|memory) is too small for requested image",
        "compute",
        "The flavor is smaller than the image needs",
        "The image's size (or its min_disk/min_ram) does not fit the flavor's root disk or RAM.",
        "Pick a bigger flavor: `openstack flavor list`.",
    ),
    (
        "nova.invalid-state",
        r"Cannot '(?P<action>\w+)' instance \S+ while it is in (?P<attr>\w+) (?P<state>\S+)",
        "compute",
        "The server is not in a state that allows '{action}'",
        "Nova refuses actions that make no sense in the server's current {attr} ({state}): "
        "stopping a stopped server, starting a running one.",
        "`openstack server show SERVER -c status -c OS-EXT-STS:task_state`; wait for the "
        "task to finish, or do the action that fits.",
    ),
    (
        "nova.messaging-timeout",
        r"MessagingTimeout|Timed out waiting for a reply to message ID",
        "base",
        "A Nova service did not answer over RabbitMQ",
        "An RPC call got no reply within rpc_response_timeout: the other service is down, "
        "or cannot log in to RabbitMQ (a wrong password in transport_url), or RabbitMQ "
        "itself is stopped.",
        "`openstack compute service list`; grep 'AMQP server' in the Nova logs; check "
        "[DEFAULT] transport_url against `rabbitmqctl list_users`.",
    ),
    (
        "nova.amqp-refused",
        r"ACCESS_REFUSED - Login was refused",
        "base",
        "A service cannot log in to RabbitMQ",
        "Its transport_url has a user or password RabbitMQ does not know, so it never "
        "consumes its queue and never reports: it shows as down.",
        "Fix [DEFAULT] transport_url (rabbit://openstack:RABBIT_PASS@controller:5672/) on "
        "that host and restart the service.",
    ),
    (
        "nova.not-running",
        r"nova-api is not running on (?P<host>[\w-]+)",
        "compute",
        "Nova is not installed or not started yet",
        "Requests under /compute get 503 until nova-api runs on {host}.",
        "lab.ensure('nova-compute') (notebook 04's install cells), or `labkit install sim "
        "nova-compute` from a terminal.",
    ),
)

ENTRIES = pattern_entries(_KNOWN)
