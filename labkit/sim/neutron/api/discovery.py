"""The version documents (``GET /``, ``GET /v2.0/``) and the extension list."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response, public
from labkit.sim.neutron.api._helpers import app
from labkit.sim.neutron.errors import extension_not_found, http_not_found

routes = Routes()

# Zed's core resources, in the order V2Controller lists them.
CORE_RESOURCES = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("subnetpool", "subnetpools"),
    ("port", "ports"),
)
TIMESTAMP = "2000-01-01T10:00:00-00:00"  # extensions' "updated" (placeholders in Zed)

# (name, alias, description): what Zed's ML2 with the Install Guide's provider networks
# loads (recorded from a real cloud: tests/parity/recorded/neutron-extensions-200.json).
EXTENSIONS = (
    ("Address group", "address-group", "Support address group"),
    ("Address scope", "address-scope", "Address scopes extension."),
    ("agent", "agent", "The agent management extension."),
    (
        "Agent's Resource View Synced to Placement",
        "agent-resources-synced",
        "Stores success/failure of last sync to Placement",
    ),
    ("Allowed Address Pairs", "allowed-address-pairs", "Provides allowed address pairs"),
    ("Availability Zone", "availability_zone", "The availability zone extension."),
    (
        "Availability Zone Filter Extension",
        "availability_zone_filter",
        "Add filter parameters to AvailabilityZone resource",
    ),
    (
        "Default Subnetpools",
        "default-subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    ("DHCP Agent Scheduler", "dhcp_agent_scheduler", "Schedule networks among dhcp agents"),
    (
        "Empty String Filtering Extension",
        "empty-string-filtering",
        "Allow filtering by attributes with empty string value",
    ),
    (
        "Neutron external network",
        "external-net",
        "Adds external network attribute to network resource.",
    ),
    (
        "Neutron Extra DHCP options",
        "extra_dhcp_opt",
        "Extra options configuration for DHCP. For example PXE boot options to DHCP clients "
        "can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
    ),
    (
        "Filter parameters validation",
        "filter-validation",
        "Provides validation on filter parameters.",
    ),
    ("Neutron Service Flavors", "flavors", "Flavor specification for Neutron advanced services."),
    (
        "IP address substring filtering",
        "ip-substring-filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    (
        "Multi Provider Network",
        "multi-provider",
        "Expose mapping of virtual networks to multiple physical networks",
    ),
    ("Network MTU", "net-mtu", "Provides MTU attribute for a network resource."),
    (
        "Network MTU (writable)",
        "net-mtu-writable",
        "Provides a writable MTU attribute for a network resource.",
    ),
    (
        "Network Availability Zone",
        "network_availability_zone",
        "Availability zone support for network.",
    ),
    (
        "Network IP Availability",
        "network-ip-availability",
        "Provides IP availability data for each network and subnet.",
    ),
    ("Pagination support", "pagination", "Extension that indicates that pagination is enabled."),
    ("Port device profile", "port-device-profile", "Expose the port device profile (Cyborg)"),
    (
        "Neutron Port MAC address override",
        "port-mac-override",
        "Allow overriding the MAC address of a direct-physical Port via the active binding profile",
    ),
    (
        "Neutron Port MAC address regenerate",
        "port-mac-address-regenerate",
        "Network port MAC address regenerate",
    ),
    (
        "Port NUMA affinity policy",
        "port-numa-affinity-policy",
        "Expose the port NUMA affinity policy",
    ),
    ("Port Binding", "binding", "Expose port bindings of a virtual port to external application"),
    (
        "Port Bindings Extended",
        "binding-extended",
        "Expose port bindings of a virtual port to external application",
    ),
    ("Port Security", "port-security", "Provides port security"),
    (
        "project_id field enabled",
        "project-id",
        "Extension that indicates that project_id field is enabled.",
    ),
    ("Provider Network", "provider", "Expose mapping of virtual networks to physical networks"),
    (
        "Quota engine limit check",
        "quota-check-limit",
        "Support for checking the resource usage before applying a new quota limit",
    ),
    ("Quota management support", "quotas", "Expose functions for quotas management per project"),
    (
        "Quota details management support",
        "quota_details",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "RBAC Policies",
        "rbac-policies",
        "Allows creation and modification of policies that control tenant access to resources.",
    ),
    (
        "Add address_group type to RBAC",
        "rbac-address-group",
        "Add address_group type to network RBAC",
    ),
    ("Add address_scope type to RBAC", "rbac-address-scope", "Add address_scope type to RBAC"),
    (
        "Add security_group type to network RBAC",
        "rbac-security-groups",
        "Add security_group type to network RBAC",
    ),
    ("Add subnetpool type to RBAC", "rbac-subnetpool", "Add subnetpool type to RBAC"),
    (
        "If-Match constraints based on revision_number",
        "revision-if-match",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "Resource revision numbers",
        "standard-attr-revisions",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "Normalized CIDR field for security group rules",
        "security-groups-normalized-cidr",
        "Add new field with normalized remote_ip_prefix cidr in SG rule",
    ),
    (
        "Port filtering on security groups",
        "port-security-groups-filtering",
        "Provides security groups filtering when listing ports",
    ),
    (
        "Remote address group id field for security group rules",
        "security-groups-remote-address-group",
        "Add new field of remote address group id in SG rules",
    ),
    (
        "Security group filtering on the shared field",
        "security-groups-shared-filtering",
        "Support filtering security groups on the shared field",
    ),
    ("security-group", "security-group", "The security groups extension."),
    (
        "Neutron Service Type Management",
        "service-type",
        "API for retrieving service providers for Neutron advanced services",
    ),
    ("Sorting support", "sorting", "Extension that indicates that sorting is enabled."),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "Stateful security group",
        "stateful-security-group",
        "Indicates if the security group is stateful or not",
    ),
    (
        "Subnet Onboard",
        "subnet_onboard",
        "Provides support for onboarding subnets into subnet pools",
    ),
    (
        "Subnet service types",
        "subnet-service-types",
        "Provides ability to set the subnet service_types field",
    ),
    ("Subnet Allocation", "subnet_allocation", "Enables allocation of subnets from a subnet pool"),
    (
        "Subnet Pool Prefix Operations",
        "subnetpool-prefix-ops",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    (
        "Tag support for resources with standard attribute: port, subnet, subnetpool, network, "
        "security_group, router, floatingip, policy, trunk, network_segment_range",
        "standard-attr-tag",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "Resource timestamps",
        "standard-attr-timestamp",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
        "standard attributes.",
    ),
)
L3_EXTENSIONS = (
    (
        "Neutron L3 Router",
        "router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access "
        "to external networks via a NAT gateway.",
    ),
    (
        "Neutron L3 Configurable external gateway mode",
        "ext-gw-mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the "
        "external gateway",
    ),
)


def _extension(name: str, alias: str, description: str) -> dict[str, object]:
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "updated": TIMESTAMP,
        "links": [],
    }


def loaded(call: Call) -> list[dict[str, object]]:
    exts = [_extension(*e) for e in EXTENSIONS]
    conf = app(call).conf
    if conf is not None and conf.l3_enabled:
        exts += [_extension(*e) for e in L3_EXTENSIONS]
    return exts


@routes.get("/")
@public
def versions(call: Call) -> Response:
    return json_response(
        {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": f"{call.root_url}/v2.0/"}],
                }
            ]
        }
    )


@routes.get("/v2.0")
def resources(call: Call) -> Response:
    if not call.path.endswith("/"):
        raise http_not_found()
    return json_response(
        {
            "resources": [
                {
                    "name": name,
                    "collection": collection,
                    "links": [{"rel": "self", "href": f"{call.root_url}/v2.0/{collection}"}],
                }
                for name, collection in CORE_RESOURCES
            ]
        }
    )


@routes.get("/v2.0/extensions")
def extensions(call: Call) -> Response:
    return json_response({"extensions": loaded(call)})


@routes.get("/v2.0/extensions/{alias}")
def extension(call: Call, alias: str) -> Response:
    for ext in loaded(call):
        if ext["alias"] == alias:
            return json_response({"extension": ext})
    raise extension_not_found(alias)
