"""What a guest learns about itself: the OpenStack and EC2 metadata trees of one instance.

A booting guest's cloud-init asks ``http://169.254.169.254/openstack/latest/meta_data.json``
(or reads the same file from a config drive) to find its name, its SSH key, its user data and
its network. Nova builds those answers in ``nova.api.metadata.base.InstanceMetadata`` from
what it keeps about the instance -- the cell database row, the keypair saved with it, the
network info cached from Neutron -- and serves them two ways:

- **the metadata API** (``nova-api-metadata``, port 8775, :mod:`.metadata_api`): one path at
  a time, ``/openstack/...`` or the EC2 style ``/latest/meta-data/...``;
- **the config drive**: every file of both trees written to a small disk attached to the
  guest (``openstack/latest/meta_data.json``, ``ec2/latest/meta-data.json`` ...).

:class:`InstanceMetadata` is that object for the sim, and :func:`documents` is the one entry
point a compute host needs for a config drive: both faces render from the same
:class:`InstanceFacts`, so a file on the drive is byte for byte what the API answers for its
path (except ``random_seed``, fresh on every read, as in Nova).

The trees (Zed)::

    /openstack                      2012-08-10 ... 2020-10-14, latest
    /openstack/<version>/           meta_data.json, user_data (if any), password,
                                    vendor_data.json, network_data.json, vendor_data2.json
    /                               1.0 2007-01-19 ... 2009-04-04 latest   (EC2 versions)
    /<version>/meta-data/           ami-id, hostname, instance-id, local-ipv4, placement/,
                                    public-keys/, block-device-mapping/, security-groups ...
    /<version>/user-data

Paths are what a guest asks; anything else is a 404.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from labkit.sim.nova import instances
from labkit.sim.nova import models as m
from labkit.sim.nova.config import DEFAULT_SKIP_VERSIONS

if TYPE_CHECKING:
    from labkit.sim.nova.clients import NeutronClient
    from labkit.sim.nova.service import NovaProcess

# The EC2 API versions Nova answers for (its VERSIONS).
EC2_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)
# The OpenStack metadata versions of Zed, each named after the date of the release that
# brought it (Folsom ... Victoria); "latest" is the last.
FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY = "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"
VICTORIA = "2020-10-14"
OPENSTACK_VERSIONS = (
    FOLSOM,
    GRIZZLY,
    HAVANA,
    LIBERTY,
    NEWTON_ONE,
    NEWTON_TWO,
    OCATA,
    ROCKY,
    VICTORIA,
)

MD_JSON, UD_NAME, PASSWORD = "meta_data.json", "user_data", "password"
VD_JSON, VD2_JSON, NW_JSON = "vendor_data.json", "vendor_data2.json", "network_data.json"
TEXT, JSON = "text/plain", "application/json"
# VIF types Nova shows by name in network_data.json's links (others are "phy").
LEGACY_VIF_TYPES = ("bridge", "dvs", "hw_veb", "hyperv", "ovs", "tap", "vhostuser", "vif")


class InvalidMetadataPath(LookupError):
    """Nothing at that path (the API answers 404)."""


class Password:
    """The value at ``openstack/<version>/password``: a guest GETs it, or POSTs it once
    (Nova's ``handle_password``); the API handles both methods."""


PASSWORD_HANDLER = Password()
Tree = str | bytes | int | list[str] | dict[str, Any] | Password | None


# ---- what Nova knows of the instance -------------------------------------------------------


@dataclass(frozen=True)
class Keypair:
    name: str
    type: str  # "ssh" | "x509"
    public_key: str


@dataclass(frozen=True)
class Subnet:
    """One subnet of a port, as Nova's network info cache holds it."""

    cidr: str
    gateway: str | None
    ips: tuple[str, ...]  # the port's addresses in this subnet
    dns: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (destination cidr, nexthop)
    dhcp_server: str | None = None  # set when the subnet has DHCP (Nova: the DHCP port)
    ipv6_address_mode: str | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.cidr, strict=False).version


@dataclass(frozen=True)
class Vif:
    """One Neutron port of the instance (a VIF of Nova's network model)."""

    port_id: str
    mac: str
    network_id: str
    vif_type: str = "bridge"
    mtu: int | None = None
    subnets: tuple[Subnet, ...] = ()

    @property
    def devname(self) -> str:
        """The tap device on the compute host (``tap`` + 11 characters of the port id)."""
        return f"tap{self.port_id}"[:14]


@dataclass(frozen=True)
class InstanceFacts:
    """Everything the metadata trees are made of, gathered once (Nova's InstanceMetadata
    constructor does the slow part -- database and Neutron -- up front, then only renders)."""

    uuid: str
    name: str  # display name
    hostname: str
    project_id: str
    launch_index: int = 0
    reservation_id: str = ""
    availability_zone: str | None = None
    ec2_id: int = 0  # instance-id is i-%08x of this
    ami_id: int = 0  # ami-id is ami-%08x of this
    flavor_name: str = ""
    ephemeral_gb: int = 0
    swap_mb: int = 0
    key_name: str | None = None
    key_data: str | None = None
    keypair: Keypair | None = None
    user_data: str | None = None  # base64, as the API stored it
    metadata: dict[str, str] = field(default_factory=dict)  # the server's metadata ("meta")
    security_groups: tuple[str, ...] = ()
    vifs: tuple[Vif, ...] = ()
    password: str | None = None


@dataclass(frozen=True)
class Options:
    """The ``[api]`` options the trees depend on (Zed defaults)."""

    dhcp_domain: str = "novalocal"
    vendordata_providers: tuple[str, ...] = ("StaticJSON",)
    vendor_static: dict[str, Any] = field(default_factory=dict)  # vendordata_jsonfile_path's
    config_drive_skip_versions: str = DEFAULT_SKIP_VERSIONS


# ---- the trees ------------------------------------------------------------------------------


class InstanceMetadata:
    """One instance's metadata, rendered path by path (:meth:`lookup`) or whole
    (:meth:`documents`). ``address`` is the guest's address as the request named it."""

    def __init__(
        self,
        facts: InstanceFacts,
        options: Options | None = None,
        address: str | None = None,
        today: datetime | None = None,
        extra_md: dict[str, Any] | None = None,
    ) -> None:
        self.facts = facts
        self.options = options or Options()
        self.address = address
        self.today = today
        self.extra_md = dict(extra_md or {})
        self.userdata_raw = (
            base64.b64decode(facts.user_data) if facts.user_data is not None else None
        )

    # ---- lookups ----------------------------------------------------------------------
    def lookup(self, path: str) -> Tree:
        """What the API answers at ``path`` (Nova's ``InstanceMetadata.lookup``): a listing
        (list), a leaf (str/bytes/int), an EC2 subtree (dict, printed as its keys), or the
        password handler. Raises :class:`InvalidMetadataPath`."""
        return self.find(path)[0]

    def find(self, path: str) -> tuple[Tree, str]:
        """:meth:`lookup` and the content type Nova answers it with (``text/plain`` but for
        ``meta_data.json`` and the vendor data, ``application/json``)."""
        path = posixpath.normpath("/" + path.lstrip("/")) if path else "/"
        tokens = path.split("/")[1:]
        if tokens[0] not in ("ec2", "openstack"):
            tokens = ["ec2"] if tokens[0] == "" else ["ec2", *tokens]
        if len(tokens) == 1:
            if tokens[0] == "openstack":
                today = self.today.strftime("%Y-%m-%d") if self.today else "9999"
                return [v for v in OPENSTACK_VERSIONS if v <= today] + ["latest"], TEXT
            return [*EC2_VERSIONS, "latest"], TEXT
        try:
            if tokens[0] == "openstack":
                return self._openstack_item(tokens[1:])
            return _find_path(self.ec2_metadata(tokens[1]), tokens[2:]), TEXT
        except (KeyError, InvalidMetadataPath):
            raise InvalidMetadataPath(path) from None

    def _openstack_item(self, tokens: list[str]) -> tuple[Tree, str]:
        if tokens[0] == "content":  # injected files: the sim has none
            raise KeyError("content")
        version = VICTORIA if tokens[0] == "latest" else tokens[0]
        if version not in OPENSTACK_VERSIONS:
            raise KeyError(version)
        if len(tokens) == 1:
            return self._listing(version), TEXT
        name = "/".join(tokens[1:])
        if name == MD_JSON:
            return self._meta_data_json(version), JSON
        if name == UD_NAME and self.userdata_raw is not None:
            return self.userdata_raw, TEXT
        if name == PASSWORD and _since(GRIZZLY, version):
            return PASSWORD_HANDLER, TEXT
        if name == VD_JSON and _since(HAVANA, version) and "StaticJSON" in self._providers():
            return _dump(self.options.vendor_static), JSON
        if name == NW_JSON and _since(LIBERTY, version):
            return _dump(network_data(self.facts.vifs) or {}), TEXT  # as Nova sends it
        if name == VD2_JSON and _since(NEWTON_TWO, version):
            combined: dict[str, Any] = {}
            for provider in self._providers():
                if provider == "StaticJSON":
                    combined["static"] = self.options.vendor_static
                # DynamicJSON with no vendordata_dynamic_targets adds nothing
            return _dump(combined), JSON
        raise KeyError(name)

    def _providers(self) -> tuple[str, ...]:
        return self.options.vendordata_providers

    def _listing(self, version: str) -> list[str]:
        names = [MD_JSON]
        if self.userdata_raw is not None:
            names.append(UD_NAME)
        for since, name in (
            (GRIZZLY, PASSWORD),
            (HAVANA, VD_JSON),
            (LIBERTY, NW_JSON),
            (NEWTON_TWO, VD2_JSON),
        ):
            if _since(since, version):
                names.append(name)
        return names

    @property
    def hostname(self) -> str:
        """The instance's hostname with ``[api] dhcp_domain`` (``server1.novalocal``)."""
        domain = self.options.dhcp_domain
        return f"{self.facts.hostname}.{domain}" if domain else self.facts.hostname

    def _meta_data_json(self, version: str) -> bytes:
        facts = self.facts
        data: dict[str, Any] = {"uuid": facts.uuid}
        if facts.metadata:
            data["meta"] = dict(facts.metadata)
        data.update(self.extra_md)  # the config drive's admin_pass
        if facts.key_name and facts.keypair is not None:
            data["public_keys"] = {facts.keypair.name: facts.keypair.public_key}
            data["keys"] = [
                {
                    "name": facts.keypair.name,
                    "type": facts.keypair.type,
                    "data": facts.keypair.public_key,
                }
            ]
        data["hostname"] = self.hostname
        data["name"] = facts.name
        data["launch_index"] = facts.launch_index
        data["availability_zone"] = facts.availability_zone
        if _since(GRIZZLY, version):
            data["random_seed"] = base64.b64encode(os.urandom(512)).decode()
        if _since(LIBERTY, version):
            data["project_id"] = facts.project_id
        if _since(NEWTON_ONE, version):
            data["devices"] = []  # no tagged devices in the sim
        if _since(VICTORIA, version):
            data["dedicated_cpus"] = []  # no CPU pinning
        return _dump(data)

    def block_device_mapping(self) -> dict[str, str]:
        """``instance_block_mapping`` for a libvirt guest booted from an image."""
        out = {"ami": "vda", "root": "/dev/vda"}
        next_disk = iter("bcdefgh")
        if self.facts.ephemeral_gb:
            out["ephemeral0"] = f"/dev/vd{next(next_disk)}"
        if self.facts.swap_mb:
            out["swap"] = f"/dev/vd{next(next_disk)}"
        return out

    def ec2_metadata(self, version: str) -> dict[str, Any]:
        """The EC2 tree of one version: ``{"meta-data": {...}, "user-data": bytes}``."""
        if version == "latest":
            version = EC2_VERSIONS[-1]
        if version not in EC2_VERSIONS:
            raise InvalidMetadataPath(version)
        facts = self.facts
        fixed = [ip for vif in facts.vifs for s in vif.subnets if s.version == 4 for ip in s.ips]
        hostname = self.hostname
        meta: dict[str, Any] = {
            "ami-id": f"ami-{facts.ami_id:08x}",
            "ami-launch-index": facts.launch_index,
            "ami-manifest-path": "FIXME",
            "instance-id": f"i-{facts.ec2_id:08x}",
            "hostname": hostname,
            "local-ipv4": fixed[0] if fixed else self.address,
            "reservation-id": facts.reservation_id,
            "security-groups": list(facts.security_groups),
        }
        if facts.key_name:
            meta["public-keys"] = {
                "0": {"_name": f"0={facts.key_name}", "openssh-key": facts.key_data}
            }
        if _since("2007-01-19", version, EC2_VERSIONS):
            meta["local-hostname"] = hostname
            meta["public-hostname"] = hostname
            meta["public-ipv4"] = ""  # no floating IPs
        if _since("2007-08-29", version, EC2_VERSIONS):
            meta["instance-type"] = facts.flavor_name
        if _since("2007-12-15", version, EC2_VERSIONS):
            meta["block-device-mapping"] = self.block_device_mapping()
        if _since("2008-02-01", version, EC2_VERSIONS):
            meta["placement"] = {"availability-zone": facts.availability_zone}
        if _since("2008-09-01", version, EC2_VERSIONS):
            meta["instance-action"] = "none"
        data: dict[str, Any] = {"meta-data": meta}
        if self.userdata_raw is not None:
            data["user-data"] = self.userdata_raw
        return data

    # ---- the config drive ---------------------------------------------------------------
    def documents(self) -> dict[str, bytes]:
        """Every file a config drive holds (Nova's ``metadata_for_config_drive``), keyed by
        its path on the drive."""
        return dict(self._drive_files())

    def _drive_files(self) -> Iterator[tuple[str, bytes]]:
        skipped = self.options.config_drive_skip_versions.split(" ")
        for version in (*EC2_VERSIONS, "latest"):
            if version in skipped:
                continue
            data = self.ec2_metadata(version)
            if "user-data" in data:
                yield f"ec2/{version}/user-data", data.pop("user-data")
            keys = data["meta-data"].get("public-keys")
            if keys:
                keys["0"].pop("_name", None)
            yield f"ec2/{version}/meta-data.json", _dump(data["meta-data"])
        all_versions = (*OPENSTACK_VERSIONS, "latest")
        for version in all_versions:
            names = [MD_JSON, UD_NAME, VD_JSON, NW_JSON, VD2_JSON]
            for name in names:
                path = f"openstack/{version}/{name}"
                try:
                    value = self.lookup(path)
                except InvalidMetadataPath:
                    continue  # no user data; vendor_data.json without StaticJSON
                if isinstance(value, bytes):
                    yield path, value


def render(value: Tree) -> bytes:
    """A tree value as the API's body (Nova's ``ec2_md_print``): a dict lists its keys
    (``key/`` for a subtree, ``0=NAME`` for a named one), a list one item per line."""
    if isinstance(value, dict):
        lines = []
        for key in sorted(value):
            if key == "_name":
                continue
            item = value[key]
            if isinstance(item, dict):
                lines.append(str(item["_name"]) if "_name" in item else f"{key}/")
            else:
                lines.append(key)
        return "\n".join(lines).encode()
    if isinstance(value, list):
        return "\n".join(value).encode()
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def network_data(vifs: tuple[Vif, ...]) -> dict[str, Any] | None:
    """``network_data.json`` (Nova's ``netutils.get_network_metadata``): links (the VIFs),
    networks (the first IPv4 and first IPv6 subnet of each), services (DNS servers).

    A subnet with DHCP is announced as ``ipv4_dhcp`` without its address -- the guest asks
    DHCP -- and its link's MTU is null; a subnet without DHCP carries the static address,
    netmask and routes."""
    if not vifs:
        return None
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for vif in vifs:
        if not vif.subnets:
            continue
        firsts = [next((s for s in vif.subnets if s.version == v), None) for v in (4, 6)]
        if not any(firsts):
            continue
        link: dict[str, Any] = {
            "id": vif.devname,
            "vif_id": vif.port_id,
            "type": vif.vif_type if vif.vif_type in LEGACY_VIF_TYPES else "phy",
            "mtu": None if any(s.dhcp_server for s in vif.subnets) else vif.mtu,
            "ethernet_mac_address": vif.mac,
        }
        links.append(link)
        for version, subnet in zip((4, 6), firsts, strict=True):
            if subnet is None or not subnet.ips:
                continue
            networks.append(_network_entry(vif, subnet, version, len(networks), vif.devname))
            services += [d for d in _dns(subnet) if d not in services]
    return {"links": links, "networks": networks, "services": services}


def _network_entry(
    vif: Vif, subnet: Subnet, version: int, number: int, link_id: str
) -> dict[str, Any]:
    kind = ""
    if subnet.ipv6_address_mode is not None:
        kind = f"_{subnet.ipv6_address_mode}"
    elif subnet.dhcp_server is not None:
        return {
            "id": f"network{number}",
            "type": f"ipv{version}_dhcp",
            "link": link_id,
            "network_id": vif.network_id,
        }
    net = ipaddress.ip_network(subnet.cidr, strict=False)
    routes: list[dict[str, str]] = []
    if subnet.gateway:
        anywhere = "0.0.0.0" if version == 4 else "::"
        routes.append({"network": anywhere, "netmask": anywhere, "gateway": subnet.gateway})
    for destination, nexthop in subnet.routes:
        route = ipaddress.ip_network(destination, strict=False)
        routes.append(
            {
                "network": str(route.network_address),
                "netmask": str(route.netmask),
                "gateway": nexthop,
            }
        )
    return {
        "id": f"network{number}",
        "type": f"ipv{version}{kind}",
        "link": link_id,
        "ip_address": subnet.ips[0],
        "netmask": str(net.netmask),
        "routes": routes,
        "network_id": vif.network_id,
        "services": _dns(subnet),
    }


def _dns(subnet: Subnet) -> list[dict[str, str]]:
    return [{"type": "dns", "address": address} for address in subnet.dns]


def _find_path(data: Any, tokens: list[str]) -> Any:
    """Walk an EC2 tree (Nova's ``find_path_in_tree``). Past a leaf there is nothing (Nova
    stumbles into a TypeError there and answers 500; the sim answers 404)."""
    for token in tokens:
        if isinstance(data, dict) and token in data:
            data = data[token]
        else:
            raise KeyError(token)
    return data


def _since(required: str, requested: str, versions: tuple[str, ...] = OPENSTACK_VERSIONS) -> bool:
    return versions.index(requested) >= versions.index(required)


def _dump(data: Any) -> bytes:
    return json.dumps(data).encode()


# ---- gathering the facts --------------------------------------------------------------------


class VendorDataError(Exception):
    """``[api] vendordata_jsonfile_path`` names a file that is missing or not JSON."""


def options(nova: NovaProcess) -> Options:
    """The ``[api]`` options from the process's nova.conf; reads the static vendor data
    file on its host as Nova's JsonFileVendorData does (a warning, then a failure)."""
    conf = nova.nova_conf
    static: dict[str, Any] = {}
    path = conf.vendordata_jsonfile_path
    if path:
        prefix = f"vendordata_jsonfile_path[{path}]:"
        target = nova.host_path(path)
        if not target.is_file():
            nova.log.warning("%s file does not exist", prefix)
            raise VendorDataError(f"{prefix} file does not exist")
        try:
            static = json.loads(target.read_text())
        except ValueError:
            nova.log.warning("%s failed to load json", prefix)
            raise VendorDataError(f"{prefix} failed to load json") from None
    return Options(
        dhcp_domain=conf.dhcp_domain,
        vendordata_providers=conf.vendordata_providers,
        vendor_static=static,
        config_drive_skip_versions=conf.config_drive_skip_versions,
    )


def gather(
    nova: NovaProcess, instance_uuid: str, password: str | None = None
) -> InstanceFacts | None:
    """What Nova knows of a live instance: its cell row, its keypair from the API
    database, its ports, subnets and security groups from Neutron (with the process's
    ``[neutron]`` login). None when the instance does not exist, is deleted, or has no
    cell yet. Raises :class:`~labkit.sim.nova.clients.ServiceUnreachable` when Neutron
    cannot be asked."""
    cells = nova.nova_cells
    found = instances.find(cells, instance_uuid)
    cell = found[0] if found is not None else None
    if found is None or cell is None:  # unknown, deleted, or not in a cell yet
        return None
    inst = found[1]
    db = cells.cell(cell)
    with db.read() as s:
        # EC2 ids: Nova numbers instances and images as it first meets them (the
        # instance_id_mappings and s3_images tables); the sim uses the row id and the
        # order in which the cell first saw each image.
        first_use = (
            select(m.Instance.image_ref)
            .group_by(m.Instance.image_ref)
            .order_by(func.min(m.Instance.id))
        )
        images = [ref for ref in s.scalars(first_use)]
    image_ref = inst.get("image_ref") or ""
    ami = images.index(image_ref) + 1 if image_ref in images else 0
    keypair = None
    if inst.get("key_name"):
        with cells.api.read() as s:
            row = s.scalars(
                select(m.KeyPair).where(
                    m.KeyPair.user_id == inst["user_id"], m.KeyPair.name == inst["key_name"]
                )
            ).first()
        key_type = row.type if row is not None and row.public_key == inst.get("key_data") else "ssh"
        keypair = Keypair(inst["key_name"], key_type, inst.get("key_data") or "")
    order = [p.get("port_id", "") for p in inst.get("network_info") or []]
    vifs, groups = _from_neutron(nova.neutron, instance_uuid, order)
    flavor = inst.get("flavor") or {}
    return InstanceFacts(
        uuid=instance_uuid,
        name=inst["display_name"],
        hostname=inst.get("hostname") or "",
        project_id=inst["project_id"],
        launch_index=int(inst.get("launch_index") or 0),
        reservation_id=inst.get("reservation_id") or "",
        availability_zone=inst.get("availability_zone") or nova.nova_conf.default_availability_zone,
        ec2_id=int(inst.get("id") or 0),
        ami_id=ami,
        flavor_name=str(flavor.get("name", "")),
        ephemeral_gb=int(flavor.get("ephemeral_gb") or 0),
        swap_mb=int(flavor.get("swap") or 0),
        key_name=inst.get("key_name"),
        key_data=inst.get("key_data"),
        keypair=keypair,
        user_data=inst.get("user_data"),
        metadata=dict(inst.get("metadata") or {}),
        security_groups=tuple(groups),
        vifs=tuple(vifs),
        password=password,
    )


def _from_neutron(
    neutron: NeutronClient, instance_uuid: str, order: list[str]
) -> tuple[list[Vif], list[str]]:
    """The instance's VIFs as Nova's network info model builds them from Neutron, and its
    security groups' names.

    A subnet's ``dhcp_server`` is the address of the network's DHCP port in it, else its
    gateway when it has ``enable_dhcp`` (``_get_subnets_from_port``). Only whether it is set
    shows in the trees (``ipv4_dhcp``, a null MTU), so the DHCP ports and the network (its
    MTU) are asked for only when the answer can change the result: Neutron calls cost."""
    answer = neutron.request("GET", "/ports", params={"device_id": instance_uuid})
    ports = answer.json().get("ports", []) if answer.status_code == 200 else []
    rank = {port_id: index for index, port_id in enumerate(order)}
    ports.sort(key=lambda p: (rank.get(p["id"], len(rank)), p.get("created_at") or ""))
    subnet_ids = list(
        dict.fromkeys(ip["subnet_id"] for port in ports for ip in port.get("fixed_ips", []))
    )
    found: dict[str, dict[str, Any]] = {}
    if subnet_ids:
        got = neutron.request("GET", "/subnets", params=[("id", i) for i in subnet_ids])
        found = {sub["id"]: sub for sub in _items(got, "subnets")}
    dhcp_ports: dict[str, list[dict[str, Any]]] = {}
    mtus: dict[str, int | None] = {}

    def dhcp_server(sub: dict[str, Any]) -> str | None:
        if sub.get("enable_dhcp") and sub.get("gateway_ip"):
            return str(sub["gateway_ip"])  # or the DHCP port's address: set either way
        net_id = sub["network_id"]
        if net_id not in dhcp_ports:
            got = neutron.request(
                "GET", "/ports", params={"network_id": net_id, "device_owner": "network:dhcp"}
            )
            dhcp_ports[net_id] = _items(got, "ports")
        return next(
            (
                str(ip["ip_address"])
                for port in dhcp_ports[net_id]
                for ip in port.get("fixed_ips", [])
                if ip["subnet_id"] == sub["id"]
            ),
            None,
        )

    def mtu(net_id: str) -> int | None:
        if net_id not in mtus:
            got = neutron.request("GET", f"/networks/{net_id}")
            mtus[net_id] = (
                got.json().get("network", {}).get("mtu") if got.status_code == 200 else None
            )
        return mtus[net_id]

    vifs: list[Vif] = []
    group_ids: list[str] = []
    for port in ports:
        mine = list(dict.fromkeys(ip["subnet_id"] for ip in port.get("fixed_ips", [])))
        subnets = tuple(
            Subnet(
                cidr=sub["cidr"],
                gateway=sub.get("gateway_ip"),
                ips=tuple(
                    ip["ip_address"]
                    for ip in port.get("fixed_ips", [])
                    if ip["subnet_id"] == sub["id"]
                ),
                dns=tuple(sub.get("dns_nameservers") or ()),
                routes=tuple(
                    (r["destination"], r["nexthop"]) for r in sub.get("host_routes") or ()
                ),
                dhcp_server=dhcp_server(sub),
                ipv6_address_mode=sub.get("ipv6_address_mode"),
            )
            for sub in (found[i] for i in mine if i in found)
        )
        dhcp = any(s.dhcp_server for s in subnets)
        vifs.append(
            Vif(
                port_id=port["id"],
                mac=port.get("mac_address", ""),
                network_id=port["network_id"],
                vif_type=port.get("binding:vif_type") or "bridge",
                mtu=None if dhcp or not subnets else mtu(port["network_id"]),
                subnets=subnets,
            )
        )
        group_ids += [g for g in port.get("security_groups", []) if g not in group_ids]
    names: list[str] = []
    if group_ids:
        query = [("id", g) for g in group_ids] + [("fields", "id"), ("fields", "name")]
        names = [
            g["name"]
            for g in _items(
                neutron.request("GET", "/security-groups", params=query), "security_groups"
            )
        ]
    return vifs, names


def _items(answer: Any, key: str) -> list[dict[str, Any]]:
    return list(answer.json().get(key, [])) if answer.status_code == 200 else []


def load(
    nova: NovaProcess,
    instance_uuid: str,
    address: str | None = None,
    password: str | None = None,
) -> InstanceMetadata | None:
    """The metadata of one instance as ``nova`` (a Nova process with the API database in
    its nova.conf) finds it; None when there is no such live instance."""
    facts = gather(nova, instance_uuid, password)
    if facts is None:
        return None
    return InstanceMetadata(facts, options(nova), address, nova.runtime.now())


def documents(
    nova: NovaProcess, instance_uuid: str, admin_pass: str | None = None
) -> dict[str, bytes]:
    """The config drive of an instance: every file of the OpenStack and EC2 trees, keyed
    by its path on the drive (``openstack/latest/meta_data.json``,
    ``openstack/latest/user_data``, ``openstack/latest/network_data.json``,
    ``openstack/latest/vendor_data2.json``, ``ec2/latest/meta-data.json``,
    ``ec2/2009-04-04/user-data`` ...).

    This is what the libvirt driver writes to ``disk.config`` when the server was created
    with ``config_drive`` (or ``[DEFAULT] force_config_drive`` is set, see
    :func:`config_drive_wanted`); call it from the compute host that spawns the guest,
    after the ports are bound. ``nova`` is that compute's process: it reads the API
    database through the controller's cells and asks Neutron with its ``[neutron]``
    login. ``admin_pass``, when given, is added to ``meta_data.json`` as Nova does for the
    drive only (the metadata API never serves it).

    The content is the metadata API's for the same paths (same facts, same rendering),
    except ``random_seed``, which is new in every ``meta_data.json``. Raises LookupError
    when the instance is unknown or deleted, and
    :class:`~labkit.sim.nova.clients.ServiceUnreachable` when Neutron cannot be asked."""
    facts = gather(nova, instance_uuid)
    if facts is None:
        raise LookupError(f"Instance {instance_uuid} could not be found.")
    extra = {"admin_pass": admin_pass} if admin_pass else None
    return InstanceMetadata(facts, options(nova), None, nova.runtime.now(), extra).documents()


def config_drive_wanted(
    instance: dict[str, Any], force: bool, image_properties: dict[str, Any]
) -> bool:
    """Does the guest get a config drive (``nova.virt.configdrive.required_by``)? When the
    server asked for one (``config_drive`` is ``"True"``), when ``[DEFAULT]
    force_config_drive`` is set on the compute host, or when the image says
    ``img_config_drive=mandatory``."""
    return (
        bool(instance.get("config_drive"))
        or force
        or image_properties.get("img_config_drive") == "mandatory"
    )
