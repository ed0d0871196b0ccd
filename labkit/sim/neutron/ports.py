"""Ports: a place on a network with a MAC, addresses from its subnets, security groups and
a binding to the host whose VM (or DHCP server) uses it.

- **Addresses** (``fixed_ips``): without any, one IPv4 address from the network's subnets
  (the first subnet with room; ``IpAddressGenerationFailure`` when all are full); with a
  ``subnet_id`` one from that subnet; with an ``ip_address`` exactly that one (409
  ``IpAddressAlreadyAllocated`` when taken). A failed allocation leaves nothing behind.
- **Binding** (``binding:host_id``, set by Nova for its VMs and by the DHCP agent for its
  port): ML2's Linux bridge driver binds when the host has an alive Linux bridge agent that
  reaches the network's physnet -- ``binding:vif_type`` ``bridge`` -- else the binding fails
  (``binding_failed``). A bound port stays ``DOWN`` until the host's agent reports the device
  up; then it is ``ACTIVE``.
- **Security groups** (``security_groups``, ``port_security_enabled``): a new port gets its
  project's default group unless it names its own, or belongs to the network itself
  (``network:dhcp`` ...), which security groups never filter. Without port security a port
  can have no groups: naming some is a 400 (``PortSecurityAndIPRequiredForSecurityGroups``),
  turning port security off while it keeps some a 409 (``PortSecurityPortHasSecurityGroup``).
  A port joining or leaving groups makes the server tell every Linux bridge agent
  (``security_groups_member_updated``), and a bound port's own host is sent ``port_update``.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Select

from labkit.sim.neutron import agents, cleanup, ipam, networks, policy, quotas, secgroups
from labkit.sim.neutron import models as m
from labkit.sim.neutron.attributes import NOT_SPECIFIED
from labkit.sim.neutron.db import RowReader, Tx
from labkit.sim.neutron.errors import (
    NeutronError,
    http_forbidden,
    invalid_input,
    invalid_ip_for_network,
    invalid_ip_for_subnet,
    ip_already_allocated,
    ip_generation_failure,
    mac_in_use,
    port_has_security_group,
    port_not_found,
    port_security_required_for_groups,
    subnet_not_found,
)
from labkit.sim.neutron.notify import AgentNotifier
from labkit.sim.neutron.policy import Context

MAX_FIXED_IPS = 5  # [DEFAULT] max_fixed_ips_per_port
DHCP_OWNER = "network:dhcp"
UNBOUND, FAILED, BRIDGE = "unbound", "binding_failed", "bridge"
PORT_DEFAULTS: dict[str, Any] = {"binding:vnic_type": "normal", "device_owner": ""}


def is_trusted(device_owner: str) -> bool:
    """Ports of the network itself (DHCP, routers): security groups do not apply."""
    return device_owner.startswith("network:")


def dhcp_device_id(host: str, network_id: str) -> str:
    """What the DHCP agent puts in device_id: ``dhcp<uuid5(host)>-<network id>``."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def find(tx: Tx, port_id: str) -> m.Port | None:
    return tx.s.get(m.Port, port_id)


def _network_owner(tx: Tx, network_id: str) -> str:
    network = tx.s.get(m.Network, network_id)
    return network.project_id if network else ""


def visible(tx: Tx, ctx: Context, row: m.Port) -> bool:
    return policy.can_see_port(
        ctx, {"project_id": row.project_id}, _network_owner(tx, row.network_id)
    )


def get(tx: Tx, ctx: Context, port_id: str) -> m.Port:
    row = find(tx, port_id)
    if row is None or not visible(tx, ctx, row):
        raise port_not_found(port_id)
    return row


# Filters a port list can hand to SQL: plain string columns, compared for equality
_NARROWING = {
    "id": m.Port.id,
    "device_id": m.Port.device_id,
    "network_id": m.Port.network_id,
    "device_owner": m.Port.device_owner,
    "mac_address": m.Port.mac_address,
}
_PORTS = RowReader(m.Port.__table__)  # type: ignore[arg-type]


def candidates(tx: Tx, ctx: Context, filters: dict[str, list[Any]] | None = None) -> list[Any]:
    """The ports the caller may see, oldest first. ``filters`` (the list's, as
    :func:`~labkit.sim.neutron.attributes.filters` converted them) only narrow what is read:
    the equality filters on plain columns go into the query -- Nova asks for the ports of
    150 servers at a time by ``device_id``, and a cloud of 1,000 servers would otherwise
    build 1,000 ports to keep a handful. The list still applies every filter afterwards.

    Plain rows of the ports table (named as the model's attributes), not Port objects, read
    by a :class:`~labkit.sim.neutron.db.RowReader`: only
    :func:`~labkit.sim.neutron.views.ports` reads them, and Nova lists a server's ports at
    every status poll. The query's shape -- whose ports, which filters with how many values
    -- is compiled once."""
    scoped = not (ctx.is_admin or ctx.is_advsvc)
    narrowing = [
        (key, values)
        for key, values in (filters or {}).items()
        if key in _NARROWING and values and all(isinstance(v, str) for v in values)
    ]
    values: dict[str, Any] = {"project": ctx.project_id} if scoped else {}
    for key, wanted in narrowing:
        values.update({f"{key}_{i}": v for i, v in enumerate(wanted)})

    def build() -> Select[Any]:
        query = _PORTS.select().order_by(m.Port.standard_attr_id)
        if scoped:
            project: Any = bindparam("project")
            owned = select(m.Network.id).where(m.Network.project_id == project)
            query = query.where((m.Port.project_id == project) | m.Port.network_id.in_(owned))
        for key, wanted in narrowing:
            query = query.where(
                _NARROWING[key].in_([bindparam(f"{key}_{i}") for i in range(len(wanted))])
            )
        return query

    shape = (scoped, tuple((key, len(wanted)) for key, wanted in narrowing))
    return _PORTS.rows(tx.s, shape, build, values)


# ---- addresses --------------------------------------------------------------------------------


def _used(tx: Tx, subnet_id: str) -> set[str]:
    return set(
        tx.s.scalars(select(m.IPAllocation.ip_address).where(m.IPAllocation.subnet_id == subnet_id))
    )


def _pools(tx: Tx, subnet_id: str) -> list[ipam.Range]:
    rows = tx.s.scalars(
        select(m.IPAllocationPool)
        .where(m.IPAllocationPool.subnet_id == subnet_id)
        .order_by(m.IPAllocationPool.id)
    )
    return [(ipam.address(r.first_ip), ipam.address(r.last_ip)) for r in rows]


def _subnets(tx: Tx, network_id: str) -> list[m.Subnet]:
    return list(
        tx.s.scalars(
            select(m.Subnet)
            .where(m.Subnet.network_id == network_id)
            .order_by(m.Subnet.standard_attr_id)
        )
    )


def _eui64(cidr: str, mac: str) -> str:
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = [*octets[:3], 0xFF, 0xFE, *octets[3:]]

    net = ipam.network(cidr)
    return str(ipaddress.ip_address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


def _pick(tx: Tx, subnet: m.Subnet, device_owner: str, taken: set[str]) -> str | None:
    used = _used(tx, subnet.id) | taken
    return ipam.pick(_pools(tx, subnet.id), used, device_owner == DHCP_OWNER, tx.random_bytes)


def _auto_address(subnet: m.Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in ("slaac", "dhcpv6-stateless")


def plan_addresses(
    tx: Tx,
    network_id: str,
    requested: Any,
    device_owner: str,
    mac: str,
    keep: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """(subnet id, address) pairs for a port. ``keep`` are the port's current allocations
    (on update): requested entries matching them stay as they are."""
    subnets = _subnets(tx, network_id)
    by_id = {s.id: s for s in subnets}
    out: list[tuple[str, str]] = []
    if requested is NOT_SPECIFIED or requested is None:
        groups = [s for s in subnets if not _auto_address(s)]
        v4 = [s for s in groups if s.ip_version == 4]
        v6 = [s for s in groups if s.ip_version == 6]
        for group in (v4, v6):
            if not group:
                continue
            for candidate in group:
                address = _pick(tx, candidate, device_owner, set())
                if address is not None:
                    out.append((candidate.id, address))
                    break

            else:
                raise ip_generation_failure(network_id)
        out += [(s.id, _eui64(s.cidr, mac)) for s in subnets if _auto_address(s)]
        return out
    if len(requested) > MAX_FIXED_IPS:
        raise invalid_input("Exceeded maximum amount of fixed ips per port.")
    current = list(keep or [])
    ordered = sorted(requested, key=lambda f: "ip_address" not in f)
    taken: set[str] = set()
    for fixed in ordered:
        if not subnets:
            raise invalid_input("IP allocation requires subnets for network")
        subnet: m.Subnet | None
        if "subnet_id" in fixed:
            subnet = by_id.get(fixed["subnet_id"])
            if subnet is None:
                if tx.s.get(m.Subnet, fixed["subnet_id"]) is None:
                    raise subnet_not_found(fixed["subnet_id"])
                raise invalid_input(
                    f"Failed to create port on network {network_id}, because fixed_ips "
                    f"included invalid subnet {fixed['subnet_id']}"
                )
            if "ip_address" in fixed and not ipam.on_subnet(subnet.cidr, fixed["ip_address"]):
                raise invalid_ip_for_subnet(fixed["ip_address"])
        elif "ip_address" in fixed:
            subnet = next((s for s in subnets if ipam.on_subnet(s.cidr, fixed["ip_address"])), None)
            if subnet is None:
                raise invalid_ip_for_network(fixed["ip_address"])
        else:
            raise invalid_input("IP allocation requires subnet_id or ip_address")
        assert subnet is not None
        if "ip_address" in fixed:
            address = str(ipam.address(fixed["ip_address"]))
            if (subnet.id, address) in current:
                current.remove((subnet.id, address))
            elif address in _used(tx, subnet.id) or address in taken:
                raise ip_already_allocated(address, subnet.id)
            out.append((subnet.id, address))
            taken.add(address)
            continue
        mine = next((pair for pair in current if pair[0] == subnet.id), None)
        if mine is not None:
            current.remove(mine)
            out.append(mine)
            continue
        picked = _pick(tx, subnet, device_owner, taken)
        if picked is None:
            raise ip_generation_failure(network_id)
        out.append((subnet.id, picked))
        taken.add(picked)
    return out


def _store_addresses(tx: Tx, port: m.Port, pairs: list[tuple[str, str]]) -> None:
    existing = {
        (a.subnet_id, a.ip_address): a
        for a in tx.s.scalars(select(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
    }
    for key, stale in existing.items():
        if key not in pairs:
            tx.s.delete(stale)
    tx.s.flush()
    for seq, (subnet_id, address) in enumerate(pairs):
        row = existing.get((subnet_id, address))
        if row is None:
            tx.s.add(
                m.IPAllocation(
                    ip_address=address,
                    subnet_id=subnet_id,
                    port_id=port.id,
                    network_id=port.network_id,
                    seq=seq,
                )
            )
        else:
            row.seq = seq
    tx.s.flush()


def current_addresses(tx: Tx, port_id: str) -> list[tuple[str, str]]:
    rows = tx.s.scalars(
        select(m.IPAllocation).where(m.IPAllocation.port_id == port_id).order_by(m.IPAllocation.seq)
    )
    return [(r.subnet_id, r.ip_address) for r in rows]


def _new_mac(tx: Tx, network_id: str) -> str:
    for _ in range(16):
        mac = ipam.mac_from(tx.conf.base_mac, tx.random_bytes)
        if not _mac_taken(tx, network_id, mac):
            return mac
    raise NeutronError(
        503,
        "MacAddressGenerationFailure",
        f"Unable to generate unique mac on network {network_id}.",
    )


def _mac_taken(tx: Tx, network_id: str, mac: str) -> bool:
    return (
        tx.s.scalars(
            select(m.Port.id).where(m.Port.network_id == network_id, m.Port.mac_address == mac)
        ).first()
        is not None
    )


# ---- binding ----------------------------------------------------------------------------------


def bind(tx: Tx, port: m.Port, host: str | None, notifier: AgentNotifier | None) -> None:
    """Bind (or unbind, host empty) a port; the host's agent is told after the commit."""
    binding = tx.s.get(m.PortBinding, port.id)
    if binding is None:
        binding = m.PortBinding(port_id=port.id, host="", vnic_type="normal")
        tx.s.add(binding)
    old_host = binding.host
    binding.host = host or ""
    port.status = "DOWN"
    if not host:
        binding.vif_type, binding.vif_details = UNBOUND, {}
    elif agents.bindable(tx, host, networks.segment_of(tx, port.network_id)):
        binding.vif_type, binding.vif_details = BRIDGE, dict(agents.BRIDGE_VIF_DETAILS)
        if notifier is not None:
            port_id, network_id = port.id, port.network_id
            tx.after_commit(lambda: notifier.port_update(host, port_id, network_id))
    else:
        binding.vif_type, binding.vif_details = FAILED, {}
        if tx.log is not None:
            segment = networks.segment_of(tx, port.network_id)
            tx.log.error(
                "Failed to bind port %s on host %s for vnic_type %s using segments %s",
                port.id,
                host,
                binding.vnic_type,
                [
                    {
                        "network_type": segment.network_type,
                        "physical_network": segment.physical_network,
                        "segmentation_id": segment.segmentation_id,
                    }
                ]
                if segment
                else [],
            )
    if old_host and old_host != binding.host and notifier is not None:
        port_id = port.id
        tx.after_commit(lambda: notifier.port_delete(old_host, port_id))


def set_status(tx: Tx, port_id: str, host: str, status: str) -> m.Port | None:
    """update_device_up/down from the agent on ``host``: only for a port bound there."""
    port = find(tx, port_id)
    binding = tx.s.get(m.PortBinding, port_id)
    if port is None or binding is None or binding.host != host or port.status == status:
        return None
    if status == "ACTIVE" and binding.vif_type != BRIDGE:
        return None
    port.status = status
    tx.bump(port)
    return port


# ---- create, update, delete --------------------------------------------------------------------


def create(tx: Tx, ctx: Context, body: dict[str, Any], notifier: AgentNotifier | None) -> m.Port:
    network = networks.get(tx, ctx, body["network_id"])
    project = body["project_id"]
    shared = networks.shared_for(tx, ctx, network)
    if not (ctx.is_admin or ctx.is_advsvc) and not shared and network.project_id != project:
        raise http_forbidden(f"Tenant {project} not allowed to create port on this network")
    quotas.check(tx, project, {"port": 1})
    policy.enforce_create(
        ctx, "port", body, PORT_DEFAULTS, network_owner=network.project_id, shared=shared
    )
    device_owner = body.get("device_owner", "")
    port_security = body.get("port_security_enabled", NOT_SPECIFIED)
    if port_security is NOT_SPECIFIED:
        port_security = network.port_security_enabled
    groups = _groups_for_new_port(
        tx, ctx, project, device_owner, bool(port_security), body.get("security_groups")
    )
    mac = body.get("mac_address", NOT_SPECIFIED)
    if mac is NOT_SPECIFIED:
        mac = _new_mac(tx, network.id)
    else:
        mac = mac.lower().replace("-", ":")
        if _mac_taken(tx, network.id, mac):
            raise mac_in_use(network.id, mac)
    pairs = plan_addresses(tx, network.id, body.get("fixed_ips", NOT_SPECIFIED), device_owner, mac)
    port = m.Port(
        id=tx.new_id(),
        project_id=project,
        name=body.get("name", ""),
        network_id=network.id,
        mac_address=mac,
        admin_state_up=body.get("admin_state_up", True),
        status="DOWN",
        device_id=body.get("device_id", ""),
        device_owner=device_owner,
        port_security_enabled=bool(port_security),
        allowed_address_pairs=list(_given(body, "allowed_address_pairs") or []),
        extra_dhcp_opts=list(_given(body, "extra_dhcp_opts") or []),
        description=body.get("description", ""),
        **tx.standard("ports"),
    )
    tx.s.add(port)
    tx.s.flush()
    _store_addresses(tx, port, pairs)
    secgroups.bind_port(tx, port.id, groups)
    tx.s.add(
        m.PortBinding(
            port_id=port.id,
            host="",
            vnic_type=body.get("binding:vnic_type", "normal"),
            vif_type=UNBOUND,
            vif_details={},
            profile=dict(_given(body, "binding:profile") or {}),
        )
    )
    tx.s.flush()
    host = _given(body, "binding:host_id")
    if host:
        bind(tx, port, host, notifier)
    if device_owner != DHCP_OWNER:
        secgroups.notify_member_updated(tx, notifier, groups)
    return port


def _groups_for_new_port(
    tx: Tx, ctx: Context, project: str, device_owner: str, port_security: bool, wanted: Any
) -> list[str]:
    """The groups a new port gets (ML2's port-security processing, then the group checks):
    none for the network's own ports; the project's default group when none are named;
    none allowed without port security."""
    given = wanted is not NOT_SPECIFIED and wanted is not None
    if port_security:
        if not given and not is_trusted(device_owner):
            default = secgroups.ensure_default(tx, ctx, project)
            return [default] if default else []
    elif given and wanted:
        raise port_security_required_for_groups()
    if not given or is_trusted(device_owner):
        return []
    return [g.id for g in secgroups.groups_for_port(tx, ctx, project, list(wanted))]


def _port_security_update(
    tx: Tx, port: m.Port, changes: dict[str, Any], new_security: bool
) -> None:
    """_portsec_ext_port_update_processing: a port without port security may not be given
    groups (400), and may not keep the ones it has unless the same request removes them
    (409)."""
    if new_security:
        return
    wanted = changes.get("security_groups", NOT_SPECIFIED)
    if wanted is not NOT_SPECIFIED and wanted:
        raise port_security_required_for_groups()
    removes = "security_groups" in changes and not wanted
    if not removes and secgroups.groups_of_port(tx, port.id):
        raise port_has_security_group()


def _given(body: dict[str, Any], key: str) -> Any:
    value = body.get(key, NOT_SPECIFIED)
    return None if value is NOT_SPECIFIED else value


def update(
    tx: Tx, ctx: Context, port: m.Port, changes: dict[str, Any], notifier: AgentNotifier | None
) -> m.Port:
    network = tx.s.get(m.Network, port.network_id)
    owner = network.project_id if network else ""
    target = {
        "project_id": port.project_id,
        "shared": bool(network and networks.shared_for(tx, ctx, network)),
    }
    if not (ctx.is_admin or port.project_id == ctx.project_id or owner == ctx.project_id):
        raise port_not_found(port.id)
    policy.enforce_update(ctx, "port", target, changes, owner)
    binding = tx.s.get(m.PortBinding, port.id)
    before = (port.mac_address, port.port_security_enabled, port.admin_state_up)
    if "mac_address" in changes:
        mac = str(changes["mac_address"]).lower()
        if mac != port.mac_address:
            if binding is not None and binding.vif_type not in (UNBOUND, FAILED):
                raise NeutronError(
                    409,
                    "PortBound",
                    f"Unable to complete operation on port {port.id}, port is already bound, "
                    f"port type: {binding.vif_type}, old_mac {port.mac_address}, new_mac {mac}.",
                )
            if _mac_taken(tx, port.network_id, mac):
                raise mac_in_use(port.network_id, mac)
            port.mac_address = mac
    old_addresses = current_addresses(tx, port.id)
    if "fixed_ips" in changes:
        pairs = plan_addresses(
            tx,
            port.network_id,
            changes["fixed_ips"],
            changes.get("device_owner", port.device_owner),
            port.mac_address,
            keep=current_addresses(tx, port.id),
        )
        _store_addresses(tx, port, pairs)
    old_groups = secgroups.groups_of_port(tx, port.id)
    new_security = bool(changes.get("port_security_enabled", port.port_security_enabled))
    _port_security_update(tx, port, changes, new_security)
    new_groups = old_groups
    wanted = changes.get("security_groups")
    if "security_groups" in changes and sorted(set(wanted or [])) != old_groups:
        # the request names no project: any group the caller can see may be used
        rows = secgroups.groups_for_port(tx, ctx, changes.get("project_id"), list(wanted or []))
        new_groups = sorted(g.id for g in rows)
        secgroups.bind_port(tx, port.id, [g.id for g in rows])
    for key in (
        "name",
        "description",
        "admin_state_up",
        "device_id",
        "device_owner",
        "port_security_enabled",
        "allowed_address_pairs",
        "extra_dhcp_opts",
    ):
        if key in changes:
            setattr(port, key, changes[key] if changes[key] is not None else "")
    if binding is not None:
        if "binding:vnic_type" in changes:
            binding.vnic_type = changes["binding:vnic_type"]
        if "binding:profile" in changes:
            binding.profile = dict(changes["binding:profile"] or {})
    if "binding:host_id" in changes:
        bind(tx, port, changes["binding:host_id"], notifier)
    addresses_changed = "fixed_ips" in changes and old_addresses != current_addresses(tx, port.id)
    if new_groups != old_groups and port.device_owner != DHCP_OWNER:
        secgroups.notify_member_updated(tx, notifier, old_groups + new_groups)
    elif addresses_changed and port.device_owner != DHCP_OWNER:
        secgroups.notify_member_updated(tx, notifier, new_groups)
    after = (port.mac_address, port.port_security_enabled, port.admin_state_up)
    if "binding:host_id" not in changes and (
        new_groups != old_groups or addresses_changed or before != after
    ):
        _tell_agent(tx, port, notifier)
    tx.bump(port)
    return port


def _tell_agent(tx: Tx, port: m.Port, notifier: AgentNotifier | None) -> None:
    """ML2's ``need_port_update_notify``: a bound port whose groups, addresses, MAC, port
    security or admin state changed is sent to its host's agent again (``port_update``),
    which refreshes its filter."""
    binding = tx.s.get(m.PortBinding, port.id)
    if notifier is None or binding is None or not binding.host or binding.vif_type != BRIDGE:
        return
    host, port_id, network_id = binding.host, port.id, port.network_id
    tx.after_commit(lambda: notifier.port_update(host, port_id, network_id))


def delete(tx: Tx, ctx: Context, port: m.Port, notifier: AgentNotifier | None) -> None:
    owner = _network_owner(tx, port.network_id)
    if not (
        ctx.is_admin
        or ctx.is_advsvc
        or port.project_id == ctx.project_id
        or owner == ctx.project_id
    ):
        raise port_not_found(port.id)
    binding = tx.s.get(m.PortBinding, port.id)
    host = binding.host if binding else ""
    port_id = port.id
    groups = secgroups.groups_of_port(tx, port.id)
    if port.device_owner != DHCP_OWNER:
        secgroups.notify_member_updated(tx, notifier, groups)
    cleanup.remove_port(tx, port)
    if host and notifier is not None:
        tx.after_commit(lambda: notifier.port_delete(host, port_id))


def dhcp_port(tx: Tx, network_id: str, host: str, notifier: AgentNotifier | None) -> m.Port | None:
    """The DHCP agent on ``host`` wants its port on a network: created or brought up to date
    with an address on every DHCP-enabled subnet (create_dhcp_port / update_dhcp_port)."""
    network = tx.s.get(m.Network, network_id)
    if network is None:
        return None
    device_id = dhcp_device_id(host, network_id)
    wanted = [s.id for s in _subnets(tx, network_id) if s.enable_dhcp]
    port = tx.s.scalars(
        select(m.Port).where(m.Port.network_id == network_id, m.Port.device_id == device_id)
    ).first()
    if not wanted:
        if port is not None:
            cleanup.remove_port(tx, port)
        return None
    admin = Context.admin()
    if port is None:
        body = {
            "network_id": network_id,
            "project_id": network.project_id,
            "tenant_id": network.project_id,
            "device_id": device_id,
            "device_owner": DHCP_OWNER,
            "fixed_ips": [{"subnet_id": s} for s in wanted],
            "binding:host_id": host,
            "name": "",
        }
        return create(tx, admin, body, notifier)
    have = {pair[0] for pair in current_addresses(tx, port.id)}
    if have != set(wanted):
        fixed = [{"subnet_id": s} for s in wanted]
        update(tx, admin, port, {"fixed_ips": fixed}, notifier)
    return port
