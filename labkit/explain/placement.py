"""Placement's errors: the failures a learner meets while hosts register and servers are
scheduled.

Patterns match the error text (what openstacksdk raised, what the CLI printed, a line of
placement-api's log, or a nova log line quoting Placement).
"""

from __future__ import annotations

from labkit.explain import pattern_entries

# (name, pattern, layer, title, cause, fix), most specific first.
_KNOWN = (
    (
        "placement.region-name",
        r"placement[\s\S]*EndpointNotFound: (?P<interface>\w+) endpoint for identity "
        r"service in "
        r"(?P<region>\S+) region not found",
        "compute",
        "Placement cannot find Keystone in its configured region",
        "placement.conf [keystone_authtoken] region_name = {region} names no region with "
        "identity endpoints. Debian ships regionOne (lower-case r) while the Install Guide "
        "bootstraps RegionOne, so every authenticated request answers HTTP 500.",
        "crudini --set /etc/placement/placement.conf keystone_authtoken region_name RegionOne "
        "and restart placement-api; labkit's placement plan sets it for you.",
    ),
    (
        "placement.not-running",
        r"placement-api is not running on (?P<host>[\w-]+)",
        "compute",
        "Placement is not installed or not started yet",
        "Requests under /placement get 503 until placement-api has been installed and started "
        "on {host}.",
        "lab.ensure('placement'), or `labkit install sim placement` from a terminal.",
    ),
    (
        "placement.no-candidates",
        r"No valid host was found|\"allocation_requests\": \[\]|"
        r"no allocation candidates",
        "compute",
        "No host has room for the request",
        "Placement found no resource provider whose free capacity covers every requested "
        "amount: for each resource class used + requested must stay within (total - reserved) "
        "* allocation_ratio, and the amount must respect min_unit, max_unit and step_size. "
        "Required traits and member_of aggregates narrow the field further.",
        "Compare the request with `openstack resource provider usage show UUID` and "
        "`openstack resource provider inventory list UUID` for each host: free some "
        "allocations, ask for a smaller flavor, or raise the inventory (allocation_ratio).",
    ),
    (
        "placement.capacity",
        r"The requested amount would exceed the capacity",
        "compute",
        "The claim does not fit on that provider any more",
        "Writing these allocations would take the provider past (total - reserved) * "
        "allocation_ratio for that resource class. Placement checks and writes in one step, "
        "so two claims for the last unit cannot both win: the later one gets this 409.",
        "Ask for allocation candidates again and claim one that still has room (Nova's "
        "scheduler tries the next host by itself).",
    ),
    (
        "placement.concurrent-update",
        r"placement\.concurrent_update|generation conflict|"
        r"generation already changed|concurrently updated",
        "compute",
        "Someone changed it since you read it (a stale generation)",
        "Every resource provider (and, from microversion 1.28, every consumer) carries a "
        "generation that each change increments. A write that sends an older generation than "
        "the current one is refused with 409 placement.concurrent_update, so that two writers "
        "never overwrite each other unseen.",
        "Read the object again (`openstack resource provider show UUID`, or GET "
        "/allocations/CONSUMER for consumer_generation), apply your change to what you read "
        "and send it with that generation. For a new consumer send consumer_generation null.",
    ),
    (
        "placement.inventory-in-use",
        r"placement\.inventory\.inuse|Inventory for '(?P<classes>[^']+)' on resource "
        r"provider '(?P<provider>[^']+)' in use",
        "compute",
        "That inventory still has allocations against it",
        "Placement will not delete (or PUT away) a resource class from a provider's inventory "
        "while consumers hold allocations of it: their claims would point at nothing.",
        "Find the consumers (`openstack resource provider show UUID --allocations`), delete "
        "their servers or `openstack resource provider allocation delete CONSUMER`, then "
        "change the inventory.",
    ),
    (
        "placement.provider-in-use",
        r"placement\.resource_provider\.inuse|Resource provider has allocations",
        "compute",
        "A provider with allocations cannot be deleted",
        "Consumers (servers) still hold resources on this provider.",
        "Delete or move those servers first, then delete the provider.",
    ),
    (
        "placement.policy",
        r"Policy does not allow (?P<action>placement:[\w:]+) to be performed",
        "compute",
        "Only an admin may do this in Placement",
        "Zed's Placement policy ({action}) lets the admin role do nearly everything and "
        "others almost nothing: Placement is for services and operators, not projects.",
        "Use the admin credentials (lab-admin), as Nova does with its service user.",
    ),
    (
        "placement.microversion",
        r"Unacceptable version header: (?P<version>\S+)",
        "compute",
        "Placement does not have that microversion",
        "Zed's Placement speaks microversions 1.0 to 1.39; {version} is not one of them.",
        "Ask for one in that range (openstack --os-placement-api-version 1.39 ...), or "
        "leave it out.",
    ),
)

ENTRIES = pattern_entries(_KNOWN)
