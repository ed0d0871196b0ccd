"""Neutron's errors: the exception names and texts of neutron-lib, rendered as Neutron does.

Every error Neutron answers goes through ``convert_exception_to_http_exc``: the body is
``{"NeutronError": {"type": <the exception's class name>, "message": <its text>, "detail":
""}}`` and the status comes from neutron-lib's fault map (NotFound 404, Conflict and InUse
409, BadRequest 400, NotAuthorized and policy failures 403, ServiceUnavailable 503).
Errors raised by WebOb itself (``webob.exc.HTTPBadRequest`` for a body that fails attribute
validation, ``HTTPNotFound`` for an unknown URL) carry the WebOb class name as their type.

The constructors here keep neutron-lib's names (``NetworkNotFound``, ``IpAddressGenerationFailure``
...) and its message templates, so a learner can search for what the sim answers.
"""

from __future__ import annotations

from labkit.sim.core.http import HttpError


class NeutronError(HttpError):
    """One Neutron error answer: its ``type`` is what clients see as NeutronError.type."""

    def __init__(
        self, status: int, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, status=status, headers=headers)
        self.kind = kind

    def body(self) -> dict[str, dict[str, str]]:
        return {"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}}


# ---- webob.exc, raised by Neutron's API layer ---------------------------------------------------


def http_bad_request(message: str) -> NeutronError:
    return NeutronError(400, "HTTPBadRequest", message)


def http_not_found(message: str = "The resource could not be found.") -> NeutronError:
    return NeutronError(404, "HTTPNotFound", message)


def http_forbidden(message: str) -> NeutronError:
    return NeutronError(403, "HTTPForbidden", message)


def http_method_not_allowed(allowed: list[str]) -> NeutronError:
    # str() of webob's HTTPMethodNotAllowed is its inherited explanation. Neutron's pecan
    # controllers answer with a bare ``pecan.abort(405)``: no Allow header (``allowed`` is
    # what the sim's router knows, unused).
    del allowed
    return NeutronError(
        405,
        "HTTPMethodNotAllowed",
        "The server could not comply with the request since it is either malformed or "
        "otherwise incorrect.",
    )


def http_not_implemented(message: str) -> NeutronError:
    return NeutronError(501, "HTTPNotImplemented", message)


# ---- neutron_lib.exceptions -----------------------------------------------------------------


def invalid_input(error_message: str) -> NeutronError:
    return NeutronError(400, "InvalidInput", f"Invalid input for operation: {error_message}.")


def bad_request(resource: str, msg: str) -> NeutronError:
    return NeutronError(400, "BadRequest", f"Bad {resource} request: {msg}.")


def network_not_found(net_id: str) -> NeutronError:
    return NeutronError(404, "NetworkNotFound", f"Network {net_id} could not be found.")


def subnet_not_found(subnet_id: str) -> NeutronError:
    return NeutronError(404, "SubnetNotFound", f"Subnet {subnet_id} could not be found.")


def port_not_found(port_id: str) -> NeutronError:
    return NeutronError(404, "PortNotFound", f"Port {port_id} could not be found.")


def agent_not_found(agent_id: str) -> NeutronError:
    return NeutronError(404, "AgentNotFound", f"Agent {agent_id} could not be found.")


def security_group_not_found(sg_id: str) -> NeutronError:
    return NeutronError(404, "SecurityGroupNotFound", f"Security group {sg_id} does not exist")


def security_group_rule_not_found(rule_id: str) -> NeutronError:
    return NeutronError(
        404, "SecurityGroupRuleNotFound", f"Security group rule {rule_id} does not exist"
    )


def extension_not_found(alias: str) -> NeutronError:
    return NeutronError(404, "HTTPNotFound", f"Extension with alias {alias} does not exist")


def ip_generation_failure(net_id: str) -> NeutronError:
    return NeutronError(
        409, "IpAddressGenerationFailure", f"No more IP addresses available on network {net_id}."
    )


def ip_already_allocated(ip: str, subnet_id: str) -> NeutronError:
    return NeutronError(
        409,
        "IpAddressAlreadyAllocated",
        f"IP address {ip} already allocated in subnet {subnet_id}",
    )


def invalid_ip_for_network(ip: str) -> NeutronError:
    return NeutronError(
        400,
        "InvalidIpForNetwork",
        f"IP address {ip} is not a valid IP for any of the subnets on the specified network.",
    )


def invalid_ip_for_subnet(ip: str) -> NeutronError:
    return NeutronError(
        400,
        "InvalidIpForSubnet",
        f"IP address {ip} is not a valid IP for the specified subnet.",
    )


def mac_in_use(net_id: str, mac: str) -> NeutronError:
    return NeutronError(
        409,
        "MacAddressInUse",
        f"Unable to complete operation for network {net_id}. The mac address {mac} is in use.",
    )


def network_in_use(net_id: str) -> NeutronError:
    return NeutronError(
        409,
        "NetworkInUse",
        f"Unable to complete operation on network {net_id}. There are one or more ports "
        "still in use on the network.",
    )


def subnet_in_use(subnet_id: str) -> NeutronError:
    return NeutronError(
        409,
        "SubnetInUse",
        f"Unable to complete operation on subnet {subnet_id}: One or more ports have an IP "
        "allocation from this subnet.",
    )


def flat_network_in_use(physnet: str) -> NeutronError:
    return NeutronError(
        409,
        "FlatNetworkInUse",
        f"Unable to create the flat network. Physical network {physnet} is in use.",
    )


def over_quota(resources: list[str]) -> NeutronError:
    listed = "[" + ", ".join(f"'{r}'" for r in resources) + "]"
    return NeutronError(409, "OverQuota", f"Quota exceeded for resources: {listed}.")


def invalid_allocation_pool(pool: str) -> NeutronError:
    return NeutronError(400, "InvalidAllocationPool", f"The allocation pool {pool} is not valid.")


def out_of_bounds_pool(pool: str, cidr: str) -> NeutronError:
    return NeutronError(
        400,
        "OutOfBoundsAllocationPool",
        f"The allocation pool {pool} spans beyond the subnet cidr {cidr}.",
    )


def overlapping_pools(pool_1: str, pool_2: str, cidr: str) -> NeutronError:
    return NeutronError(
        409,
        "OverlappingAllocationPools",
        f"Found overlapping allocation pools: {pool_1} {pool_2} for subnet {cidr}.",
    )


def gateway_conflicts_with_pool(gateway: str, pool: str) -> NeutronError:
    return NeutronError(
        409,
        "GatewayConflictWithAllocationPools",
        f"Gateway ip {gateway} conflicts with allocation pool {pool}.",
    )


def port_in_use(port_id: str, net_id: str, device_id: str) -> NeutronError:
    return NeutronError(
        409,
        "PortInUse",
        f"Unable to complete operation on port {port_id} for network {net_id}. Port already "
        f"has an attached device {device_id}.",
    )


# ---- security groups (neutron.extensions.securitygroup, neutron_lib.exceptions.port_security) ---
# InvalidInput subclasses answer 400, InUse and Conflict 409, NotFound 404.


def security_group_in_use(sg_id: str) -> NeutronError:
    return NeutronError(409, "SecurityGroupInUse", f"Security Group {sg_id} in use.")


def cannot_remove_default() -> NeutronError:
    return NeutronError(
        409,
        "SecurityGroupCannotRemoveDefault",
        "Insufficient rights for removing default security group.",
    )


def cannot_update_default() -> NeutronError:
    return NeutronError(
        409, "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."
    )


def default_already_exists() -> NeutronError:
    """Raised by the ``name_not_default`` validator: a group may not be *named* default."""
    return NeutronError(
        409, "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
    )


def security_group_conflict(reason: str) -> NeutronError:
    return NeutronError(
        409, "SecurityGroupConflict", f"Error {reason} while attempting the operation."
    )


def rule_exists(rule_id: str) -> NeutronError:
    return NeutronError(
        409,
        "SecurityGroupRuleExists",
        f"Security group rule already exists. Rule id is {rule_id}.",
    )


def invalid_protocol(protocol: object, values: str) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupRuleInvalidProtocol",
        f"Security group rule protocol {protocol} not supported. Only protocol values "
        f"{values} and integer representations [0 to 255] are supported.",
    )


def invalid_ethertype(ethertype: object, values: str) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupRuleInvalidEtherType",
        f"Security group rule for ethertype '{ethertype}' not supported. Allowed values are "
        f"{values}.",
    )


def invalid_port_value(port: object) -> NeutronError:
    return NeutronError(400, "SecurityGroupInvalidPortValue", f"Invalid value for port {port}")


def invalid_port_range() -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupInvalidPortRange",
        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
    )


def invalid_protocol_for_port(protocol: object, valid: str) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupInvalidProtocolForPort",
        f"Ports cannot be specified for protocol {protocol}. Ports are only supported for {valid}.",
    )


def protocol_required_with_ports() -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupProtocolRequiredWithPorts",
        "Must also specify protocol if port range is given.",
    )


def invalid_icmp_value(field: str, attr: str, value: object) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupInvalidIcmpValue",
        f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.",
    )


def missing_icmp_type(value: object) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupMissingIcmpType",
        f"ICMP code (port-range-max) {value} is provided but ICMP type (port-range-min) is "
        "missing.",
    )


def ethertype_conflicts_with_protocol(ethertype: str, protocol: object) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupEthertypeConflictWithProtocol",
        f"Invalid ethertype {ethertype} for protocol {protocol}.",
    )


def rule_parameter_conflict(ethertype: str, cidr: str) -> NeutronError:
    return NeutronError(
        400,
        "SecurityGroupRuleParameterConflict",
        f"Conflicting value ethertype {ethertype} for CIDR {cidr}",
    )


def multiple_remote_entities() -> NeutronError:
    # sic: neutron's class is spelled "Entites"
    return NeutronError(
        400,
        "SecurityGroupMultipleRemoteEntites",
        "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
        "provided.",
    )


def invalid_cidr(value: object) -> NeutronError:
    return NeutronError(400, "InvalidCIDR", f"Invalid CIDR {value} given as IP prefix.")


def address_group_not_found(ag_id: object) -> NeutronError:
    return NeutronError(404, "AddressGroupNotFound", f"Address group {ag_id} could not be found.")


def port_security_required_for_groups() -> NeutronError:
    return NeutronError(
        400,
        "PortSecurityAndIPRequiredForSecurityGroups",
        "Port security must be enabled and port must have an IP address in order to use "
        "security groups.",
    )


def port_has_security_group() -> NeutronError:
    return NeutronError(
        409,
        "PortSecurityPortHasSecurityGroup",
        "Port has security group associated. Cannot disable port security or IP address "
        "until security group is removed.",
    )


def policy_not_authorized(rule: str) -> NeutronError:
    """oslo.policy's PolicyNotAuthorized: the rule is the check Neutron built."""
    return NeutronError(403, "PolicyNotAuthorized", f"{rule} is disallowed by policy")


def admin_required(reason: str) -> NeutronError:
    return NeutronError(403, "AdminRequired", f"User does not have admin privileges: {reason}.")


def quota_resource_unknown(unknown: list[str]) -> NeutronError:
    return NeutronError(404, "QuotaResourceUnknown", f"Unknown quota resources {unknown}.")


def service_unavailable(message: str = "The service is unavailable.") -> NeutronError:
    return NeutronError(503, "ServiceUnavailable", message)


# ---- subnet pools (neutron_lib.exceptions, raised by the core plugin's IPAM) --------------------


def subnetpool_not_found(subnetpool_id: str) -> NeutronError:
    return NeutronError(
        404, "SubnetPoolNotFound", f"Subnet pool {subnetpool_id} could not be found."
    )


def address_scope_not_found(address_scope_id: object) -> NeutronError:
    return NeutronError(
        404, "AddressScopeNotFound", f"Address scope {address_scope_id} could not be found."
    )


def empty_prefix_list() -> NeutronError:
    return NeutronError(400, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list.")


def prefix_version_mismatch() -> NeutronError:
    return NeutronError(
        400, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."
    )


def unsupported_min_prefix(prefix: int, version: int) -> NeutronError:
    return NeutronError(
        400,
        "UnsupportedMinSubnetPoolPrefix",
        f"Prefix '{prefix}' not supported in IPv{version} pool.",
    )


def illegal_prefix_bounds(kind: str, prefixlen: int, base_kind: str, base: int) -> NeutronError:
    return NeutronError(
        400,
        "IllegalSubnetPoolPrefixBounds",
        f"Illegal prefix bounds: {kind}={prefixlen}, {base_kind}={base}.",
    )


def illegal_prefix_update(msg: str) -> NeutronError:
    return NeutronError(400, "IllegalSubnetPoolPrefixUpdate", f"Illegal update to prefixes: {msg}.")


def subnetpool_delete_error(reason: str) -> NeutronError:
    return NeutronError(400, "SubnetPoolDeleteError", f"Unable to delete subnet pool: {reason}.")


def subnetpool_quota_exceeded() -> NeutronError:
    return NeutronError(
        409, "SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded."
    )


def min_prefix_allocation(prefixlen: int, minimum: int) -> NeutronError:
    return NeutronError(
        400,
        "MinPrefixSubnetAllocationError",
        f"Unable to allocate subnet with prefix length {prefixlen}, minimum allowed prefix is "
        f"{minimum}.",
    )


def max_prefix_allocation(prefixlen: int, maximum: int) -> NeutronError:
    return NeutronError(
        400,
        "MaxPrefixSubnetAllocationError",
        f"Unable to allocate subnet with prefix length {prefixlen}, maximum allowed prefix is "
        f"{maximum}.",
    )


def subnet_allocation_error(reason: str) -> NeutronError:
    """SubnetAllocationError is a bare NeutronException: no fault maps it, so Neutron
    answers it as a 500 (HTTPInternalServerError) with its own text."""
    return NeutronError(500, "SubnetAllocationError", f"Failed to allocate subnet: {reason}.")


# ---- RBAC policies (neutron.extensions.rbac), address scopes and groups -----------------------


def rbac_policy_not_found(entry_id: str, object_type: str = "unknown") -> NeutronError:
    """_get_rbac_policy scans the RBAC tables as the caller: an entry it may not see is of
    type ``unknown``."""
    return NeutronError(
        404,
        "RbacPolicyNotFound",
        f"RBAC policy of type {object_type} with ID {entry_id} not found",
    )


def rbac_policy_in_use(object_id: str, details: str) -> NeutronError:
    return NeutronError(
        409,
        "RbacPolicyInUse",
        f"RBAC policy on object {object_id} cannot be removed because other objects depend "
        f"on it.\nDetails: {details}",
    )


def duplicate_rbac_policy() -> NeutronError:
    return NeutronError(
        409, "DuplicateRbacPolicy", "An RBAC policy already exists with those values."
    )


def invalid_action_for_type(action: str, object_type: str, valid: tuple[str, ...]) -> NeutronError:
    return NeutronError(
        400,
        "InvalidActionForType",
        f"Invalid action '{action}' for object type '{object_type}'. Valid actions: {valid}",
    )


def invalid_shared_setting(network: str) -> NeutronError:
    return NeutronError(
        409,
        "InvalidSharedSetting",
        f"Unable to reconfigure sharing settings for network {network}. Multiple tenants are "
        "using it.",
    )


def address_scope_in_use(scope_id: str) -> NeutronError:
    return NeutronError(
        409,
        "AddressScopeInUse",
        f"Unable to complete operation on address scope {scope_id}. There are one or more "
        "subnet pools in use on the address scope.",
    )


def address_scope_update_error(scope_id: str, reason: str) -> NeutronError:
    return NeutronError(
        400,
        "AddressScopeUpdateError",
        f"Unable to update address scope {scope_id} : {reason}.",
    )


def address_group_in_use(group_id: str) -> NeutronError:
    return NeutronError(
        409,
        "AddressGroupInUse",
        f"Address group {group_id} is in use on one or more security group rules.",
    )


def addresses_already_exist(addresses: list[str], group_id: str) -> NeutronError:
    return NeutronError(
        400,
        "AddressesAlreadyExist",
        f"Addresses {addresses} already exist in the address group {group_id}.",
    )


def addresses_not_found(addresses: list[str], group_id: str) -> NeutronError:
    return NeutronError(
        404,
        "AddressesNotFound",
        f"Addresses {addresses} not found in the address group {group_id}.",
    )


def illegal_scope_association(pool_id: str, scope_id: str) -> NeutronError:
    return NeutronError(
        400,
        "IllegalSubnetPoolAssociationToAddressScope",
        f"Illegal subnetpool association: subnetpool {pool_id} cannot be associated with "
        f"address scope {scope_id}.",
    )


def illegal_scope_version(pool_id: str, scope_id: str, ip_version: int) -> NeutronError:
    return NeutronError(
        400,
        "IllegalSubnetPoolIpVersionAssociationToAddressScope",
        f"Illegal subnetpool association: subnetpool {pool_id} cannot associate with address "
        f"scope {scope_id} because subnetpool ip_version is not {ip_version}.",
    )


def address_scope_prefix_conflict() -> NeutronError:
    return NeutronError(
        409,
        "AddressScopePrefixConflict",
        "Failed to associate address scope: subnetpools within an address scope must have "
        "unique prefixes.",
    )


# ---- service flavors (neutron_lib.exceptions.flavors) -----------------------------------------


def flavor_not_found(flavor_id: str) -> NeutronError:
    return NeutronError(404, "FlavorNotFound", f"Flavor {flavor_id} could not be found.")


def service_profile_not_found(sp_id: str) -> NeutronError:
    return NeutronError(
        404, "ServiceProfileNotFound", f"Service Profile {sp_id} could not be found."
    )


def service_profile_in_use(sp_id: str) -> NeutronError:
    return NeutronError(
        409, "ServiceProfileInUse", f"Service Profile {sp_id} is used by some service instance."
    )


def binding_exists(sp_id: str, flavor_id: str) -> NeutronError:
    return NeutronError(
        409,
        "FlavorServiceProfileBindingExists",
        f"Service Profile {sp_id} is already associated with flavor {flavor_id}.",
    )


def binding_not_found(sp_id: str, flavor_id: str) -> NeutronError:
    return NeutronError(
        404,
        "FlavorServiceProfileBindingNotFound",
        f"Service Profile {sp_id} is not associated with flavor {flavor_id}.",
    )


def driver_not_found(driver: str) -> NeutronError:
    return NeutronError(
        404, "ServiceProfileDriverNotFound", f"Service Profile driver {driver} could not be found."
    )


def service_profile_empty() -> NeutronError:
    return NeutronError(
        400, "ServiceProfileEmpty", "Service Profile needs either a driver or metainfo."
    )


def invalid_service_type(service_type: object) -> NeutronError:
    return NeutronError(400, "InvalidServiceType", f"Invalid service type: {service_type}.")


def illegal_subnetpool_update(reason: str) -> NeutronError:
    return NeutronError(400, "IllegalSubnetPoolUpdate", f"Illegal subnetpool update : {reason}.")
