"""nova-compute, one per host: the resource tracker, the boot, and a simulated hypervisor.

At start it registers its service and its compute node (what ``openstack hypervisor list``
shows) and reports the node to Placement as a resource provider with VCPU / MEMORY_MB /
DISK_GB inventories (allocation ratios and reservations from nova.conf), as
``ResourceTracker.update_available_resource`` does.

``build_and_run_instance`` (cast by the conductor to ``compute.<host>``) walks Zed's states:
``building/scheduling`` -> ``networking`` (a Neutron port for the server, bound to this host)
-> ``block_device_mapping`` -> ``spawning`` (the image checked with Glance, then the
simulated libvirt driver defines the domain -- the flavor's CPUs, memory and disk, a NIC per
port, the config drive if asked for -- and starts it on this host's hypervisor,
``ctx.hypervisors``) -> ``active`` with power state Running, all inside the instance action
event ``compute__do_build_and_run_instance``. A failure puts the server in ERROR with a
fault, frees its claim in Placement and records the event as Error.

The guest then boots on its own (:mod:`labkit.sim.guests`): cloud-init, the metadata
service, sshd. Stop, start, reboot and delete power it off and on or destroy it; the
console log Nova serves (``get_console_output``, an RPC *call* from nova-api) is the
guest's serial console. A nova-compute restart leaves running guests running, as a real
one does (``init_host``).

LIMITATIONS of this module: nova-compute writes to the cell database directly (real
nova-compute goes through nova-conductor's object indirection); it does not wait for
Neutron's ``network-vif-plugged`` event before starting the domain (the guest itself waits a
moment for its ports to be plugged); no power-state sync loop (a guest that stops by itself
is not noticed).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import namedtuple
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import NoResultFound

from labkit.sim.core.bus import RemoteError
from labkit.sim.core.context import RequestContext
from labkit.sim.core.hypervisor import GuestNic, GuestNotFound, GuestSpec
from labkit.sim.core.service import ServiceFailed
from labkit.sim.core.sql import Prepared, PreparedWrite
from labkit.sim.core.store import Transaction
from labkit.sim.nova import metadata, moves
from labkit.sim.nova import models as m
from labkit.sim.nova.clients import GLANCE_IMAGE_FIELDS, ServiceUnreachable, glance_image
from labkit.sim.nova.errors import BuildAborted
from labkit.sim.nova.instances import sanitize_hostname

POWER_NOSTATE, POWER_RUNNING, POWER_SHUTDOWN = 0, 1, 4
TRAITS = (
    "COMPUTE_NET_ATTACH_INTERFACE",
    "COMPUTE_VOLUME_ATTACH_WITH_TAG",
    "COMPUTE_IMAGE_TYPE_QCOW2",
    "COMPUTE_IMAGE_TYPE_RAW",
    "HW_CPU_X86_SSE2",
    "COMPUTE_NODE",
)


class NovaCompute(moves.NovaCompute):
    name = "nova-compute"
    topic = "compute"
    needs_api_db = False  # the Install Guide gives compute nodes no [api_database]

    def configure(self, conf_file: Any) -> None:
        super().configure(conf_file)

    def after_configure(self) -> None:
        conf = self.nova_conf
        if conf.compute_driver.split(".")[0] not in ("libvirt", "fake"):
            raise ServiceFailed(
                f"Compute driver option required, but not specified: {conf.compute_driver}"
            )
        if conf.compute_driver.startswith("libvirt") and not self.ctx.hosts.is_running(
            "libvirtd", self.host
        ):
            raise ServiceFailed(
                "nova.exception.HypervisorUnavailable: Connection to the hypervisor is broken "
                f"on host {self.service_host()} (is libvirtd running?)"
            )
        self.cells = self._controller_cells()
        if self.cells is None:
            self.log.warning("[-] No nova database reachable yet: not registering %s", self.host)
            return
        self.register_service()
        self._register_node()
        self._init_host()

    def before_release(self) -> None:
        self.record_stop()

    def _controller_cells(self) -> Any:
        """The cell this compute reports into: the conductor's [database] (cell1)."""
        from labkit.sim.nova.service import NovaCells

        controller = self.runtime.config.controller.name
        peer = self.room.processes.get((controller, "nova-conductor"))
        url = peer.conf.api_database if peer is not None and peer.conf is not None else ""
        if not url:
            return None
        return NovaCells(self, url)

    # ---- the resource tracker ----------------------------------------------------------
    def _host(self) -> Any:
        return next(h for h in self.runtime.config.hosts if h.name == self.host)

    def _register_node(self) -> None:
        host = self._host()
        conf = self.nova_conf
        with self.main_cell() as s:
            service = s.scalars(
                select(m.Service).where(
                    m.Service.host == self.service_host(), m.Service.binary == self.name
                )
            ).one()
            node = s.scalars(
                select(m.ComputeNode).where(m.ComputeNode.host == self.service_host())
            ).first()
            if node is None:
                node = m.ComputeNode(
                    uuid=self.runtime.ids.dashed_id(),
                    host=self.service_host(),
                    hypervisor_hostname=self.service_host(),
                    service_id=service.id,
                    vcpus=host.cpus,
                    memory_mb=int(host.ram_gb * 1024),
                    local_gb=int(host.disk_gb),
                    hypervisor_type="QEMU",
                    hypervisor_version=7002022,
                    host_ip=conf.my_ip or host.address,
                    cpu_info={
                        "arch": "x86_64",
                        "model": "qemu64" if conf.virt_type == "qemu" else "host-model",
                        "vendor": "Intel",
                        "topology": {"cells": 1, "sockets": 1, "cores": host.cpus, "threads": 1},
                    },
                    started_at=self.runtime.now().timestamp(),
                )
                s.add(node)
                self.log.info(
                    "[-] Compute node record created for %s with uuid: %s",
                    self.service_host(),
                    node.uuid,
                )
            node.service_id = service.id
            node_uuid, node_name = node.uuid, node.hypervisor_hostname
            vcpus, ram, disk = node.vcpus, node.memory_mb, node.local_gb
        try:
            self._report_to_placement(node_uuid, node_name, vcpus, ram, disk)
        except ServiceUnreachable as exc:
            self.log.error("[-] Error updating resources for node %s: %s", node_name, exc)

    def _report_to_placement(self, uuid: str, name: str, vcpus: int, ram: int, disk: int) -> None:
        conf = self.nova_conf
        found = self.placement.request("GET", f"/resource_providers/{uuid}")
        if found.status_code == 404:
            made = self.placement.request(
                "POST", "/resource_providers", json={"name": name, "uuid": uuid}
            )
            if made.status_code not in (200, 201):
                raise ServiceUnreachable(f"could not create resource provider: {made.text[:200]}")
            generation = made.json().get("generation", 0)
        elif found.status_code == 200:
            generation = found.json()["generation"]
        else:
            raise ServiceUnreachable(f"placement answered {found.status_code}: {found.text[:200]}")
        inventories = {
            "VCPU": _inventory(vcpus, conf.reserved_host_cpus, conf.cpu_allocation_ratio),
            "MEMORY_MB": _inventory(ram, conf.reserved_host_memory_mb, conf.ram_allocation_ratio),
            "DISK_GB": _inventory(
                disk, conf.reserved_host_disk_mb // 1024, conf.disk_allocation_ratio
            ),
        }
        put = self.placement.request(
            "PUT",
            f"/resource_providers/{uuid}/inventories",
            json={"resource_provider_generation": generation, "inventories": inventories},
        )
        if put.status_code != 200:
            raise ServiceUnreachable(
                f"inventory update refused: {put.status_code} {put.text[:200]}"
            )
        generation = put.json().get("resource_provider_generation", generation + 1)
        self.placement.request(
            "PUT",
            f"/resource_providers/{uuid}/traits",
            json={"resource_provider_generation": generation, "traits": list(TRAITS)},
        )

    def _init_host(self) -> None:
        """What a (re)started nova-compute does with its servers (``init_host``): a build
        that was under way when the process died is not resumed -- the server goes to ERROR
        and its claim in Placement is freed; a delete that was under way is finished."""
        with self.main_cell() as s:
            rows = list(
                s.scalars(
                    select(m.Instance).where(
                        m.Instance.host == self.service_host(), m.Instance.deleted.is_(False)
                    )
                )
            )
            stuck = [r.uuid for r in rows if r.vm_state == "building"]
            deleting = [r.uuid for r in rows if r.task_state == "deleting"]
        ctx = self.runtime.root_context(self.name, self.host)
        for uuid in stuck:
            self.log.warning(
                "[-] [instance: %s] Instance build was interrupted: setting ERROR", uuid
            )
            with self.main_cell() as s:
                row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
                flavor = dict(row.flavor)
            if row.task_state in ("networking", "block_device_mapping", "spawning"):
                self._claim(flavor, -1)
            self._fail(
                ctx,
                uuid,
                None,
                f"Build of instance {uuid} was interrupted by a restart of nova-compute on "
                f"{self.service_host()}",
            )
        for uuid in deleting:
            self.terminate_instance(ctx, uuid)
        running = [
            r.uuid
            for r in rows
            if r.vm_state in ("active", "resized")
            and r.power_state == POWER_RUNNING
            and r.task_state is None
        ]
        for uuid in running:
            self._ensure_running(ctx, uuid)

    def _ensure_running(self, ctx: RequestContext, uuid: str) -> None:
        """A guest this host should be running: left alone if it runs (a nova-compute
        restart does not stop VMs); started again after a restart of the whole sim (its
        disk kept), or defined anew if the hypervisor never knew it."""
        try:
            self.ctx.hypervisors.power_on(uuid)
        except GuestNotFound:
            self.log.warning(
                "[-] [instance: %s] Instance not found on the hypervisor: defining it again", uuid
            )
            with contextlib.suppress(BuildAborted):
                self._respawn(ctx, uuid)

    # ---- RPC: the boot -------------------------------------------------------------------
    def build_and_run_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        cell: str,
        requested_networks: Any,
        host_list: list[dict[str, Any]],
    ) -> None:
        # One transaction opens the build: the instance read, the action event started, and
        # the resource tracker's claim on this node (``instance_claim``).
        with self.cell1_transaction() as tx:
            found = _BUILD_ROW.one(tx, uuid=instance_uuid)
            if found is None or found[0]:
                return  # deleted while it was being scheduled
            row = _BuildRow(*found)
            action = _latest_action(tx, instance_uuid, "create")
            event = self._event_start(tx, action, "compute__do_build_and_run_instance")
            flavor, image_ref, created = dict(row.flavor), row.image_ref, row.created_at
            instance = _guest_fields(row)
            self._claim_in(tx, flavor, +1)
        try:
            self._set(ctx, instance_uuid, task_state="networking")
            network_info = self._allocate_network(ctx, instance_uuid, requested_networks)
            self._set(
                ctx, instance_uuid, task_state="block_device_mapping", network_info=network_info
            )
            self._set(ctx, instance_uuid, task_state="spawning")
            self._spawn(ctx, instance_uuid, image_ref, flavor, network_info, instance)
        except BuildAborted as exc:
            self._claim(flavor, -1)
            self._fail(ctx, instance_uuid, event, str(exc))
            return
        now = self.now_iso()
        self._set(
            ctx,
            instance_uuid,
            vm_state="active",
            task_state=None,
            power_state=POWER_RUNNING,
            launched_at=now,
            progress=100,
        )
        self._event_finish(event, "Success")
        took = self.runtime.now() - datetime.fromisoformat(created).replace(tzinfo=UTC)
        self.log.info(
            "[%s] [instance: %s] Took %.2f seconds to build instance.",
            ctx.request_id,
            instance_uuid,
            took.total_seconds(),
        )

    def _allocate_network(
        self, ctx: RequestContext, instance_uuid: str, requested: Any
    ) -> list[dict[str, Any]]:
        if requested == "none":
            return []
        with self.main_cell() as s:
            row = s.scalars(select(m.Instance).where(m.Instance.uuid == instance_uuid)).one()
            project, groups = row.project_id, list(row.security_groups)
        try:
            if requested in ("auto", None, []):
                networks = self._networks_for(project)
                if len(networks) != 1:
                    raise BuildAborted(
                        f"Unable to automatically allocate a network for project {project}"
                        if not networks
                        else "Multiple possible networks found, use a Network ID to be more "
                        "specific."
                    )
                wanted: list[dict[str, Any]] = [{"uuid": networks[0]["id"]}]
            else:
                wanted = list(requested)
            group_ids = self._security_group_ids(project, groups)
            info = []
            for request in wanted:
                port = self._create_port(ctx, instance_uuid, project, request, group_ids)
                info.append(port)
            return info
        except ServiceUnreachable as exc:
            raise BuildAborted(f"Build of instance {instance_uuid} aborted: {exc}") from None

    def _security_group_ids(self, project: str, names: list[str]) -> list[str]:
        """Names (or ids) of the server's security groups -> Neutron ids, as
        ``nova/network/neutron.py _process_security_groups`` resolves them."""
        if not names:
            return []
        answer = self.neutron.request("GET", f"/security-groups?project_id={project}")
        groups = answer.json().get("security_groups", []) if answer.status_code == 200 else []
        ids = []
        for wanted in names:
            match = [g["id"] for g in groups if wanted in (g["id"], g["name"])]
            if not match:
                raise BuildAborted(f"Security group {wanted} not found.")
            if len(match) > 1:
                raise BuildAborted(
                    f"Multiple security groups found matching '{wanted}'. Use an ID to be "
                    "more specific."
                )
            ids.append(match[0])
        return ids

    def _networks_for(self, project: str) -> list[dict[str, Any]]:
        own = self.neutron.request("GET", f"/networks?project_id={project}&shared=False")
        shared = self.neutron.request("GET", "/networks?shared=True")
        found: dict[str, dict[str, Any]] = {}
        for answer in (own, shared):
            if answer.status_code == 200:
                for net in answer.json().get("networks", []):
                    found[net["id"]] = net
        return list(found.values())

    def _create_port(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        project: str,
        request: dict[str, Any],
        groups: list[str],
    ) -> dict[str, Any]:
        if request.get("port"):
            answer = self.neutron.request("GET", f"/ports/{request['port']}")
            if answer.status_code != 200:
                raise BuildAborted(f"Port {request['port']} could not be found.")
            port = answer.json()["port"]
        else:
            body: dict[str, Any] = {
                "network_id": request["uuid"],
                "project_id": project,
                "device_id": instance_uuid,
            }
            if request.get("fixed_ip"):
                body["fixed_ips"] = [{"ip_address": request["fixed_ip"]}]
            if groups:
                body["security_groups"] = groups
            answer = self.neutron.request("POST", "/ports", json={"port": body})
            if answer.status_code != 201:
                raise BuildAborted(_neutron_message(answer.text))
            port = answer.json()["port"]
        zone = self.nova_conf.default_availability_zone
        bound = self.neutron.request(
            "PUT",
            f"/ports/{port['id']}",
            json={
                "port": {
                    "device_id": instance_uuid,
                    "device_owner": f"compute:{zone}",
                    "binding:host_id": self.service_host(),
                }
            },
        )
        if bound.status_code == 200:
            port = bound.json()["port"]
        network = self.neutron.request("GET", f"/networks/{port['network_id']}")
        name = (
            network.json()["network"]["name"] if network.status_code == 200 else port["network_id"]
        )
        info: dict[str, Any] = {
            "port_id": port["id"],
            "network_id": port["network_id"],
            "network_name": name,
            "mac_address": port.get("mac_address", ""),
            "fixed_ips": [ip["ip_address"] for ip in port.get("fixed_ips", [])],
        }
        if network.status_code == 200:
            info["mtu"] = network.json()["network"].get("mtu") or 1500
        info.update(self._subnet_of(port))
        return info

    def _subnet_of(self, port: dict[str, Any]) -> dict[str, Any]:
        """The first fixed IP's subnet: its CIDR and gateway (the guest's ``ip addr`` and
        default route), as Nova's network info cache holds them."""
        for fixed in port.get("fixed_ips", []):
            answer = self.neutron.request("GET", f"/subnets/{fixed.get('subnet_id')}")
            if answer.status_code == 200:
                subnet = answer.json()["subnet"]
                return {"cidr": subnet.get("cidr", ""), "gateway": subnet.get("gateway_ip")}
        return {}

    def _spawn(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_ref: str,
        flavor: dict[str, Any],
        network_info: list[dict[str, Any]],
        instance: dict[str, Any] | None = None,
    ) -> None:
        image: dict[str, Any] = {"name": image_ref}
        if ctx.auth_token and image_ref:
            try:
                answer = glance_image(
                    self.http_client, self.glance_url(), ctx.auth_token, image_ref
                )
            except Exception as exc:  # an unreachable Glance aborts the build, as in Nova
                raise BuildAborted(f"Build of instance {instance_uuid} aborted: {exc}") from None
            if answer.status_code == 404:
                raise BuildAborted(f"Image {image_ref} could not be found.")
            if answer.status_code == 200:
                image = answer.json()
                if image.get("status") != "active":
                    raise BuildAborted(
                        f"Build of instance {instance_uuid} aborted: Image {image_ref} is "
                        f"unacceptable: status is {image.get('status')}"
                    )
        spec = self._guest_spec(instance_uuid, image, image_ref, flavor, network_info, instance)
        self.ctx.hypervisors.spawn(spec)

    def _move_guest(
        self, ctx: RequestContext, uuid: str, flavor: dict[str, Any], power_on: bool
    ) -> None:
        """``finish_migration``: the guest's disk started here with ``flavor`` (the image
        may be gone by now: its name is only needed for a disk the hypervisor never had)."""
        with self.main_cell() as s:
            row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
            image_ref, network_info = row.image_ref, list(row.network_info or [])
        image = self._image_if_any(ctx, image_ref)
        self.ctx.hypervisors.spawn(self._guest_spec(uuid, image, image_ref, flavor, network_info))
        if not power_on:
            self.ctx.hypervisors.power_off(uuid)

    def _image_if_any(self, ctx: RequestContext, image_ref: str) -> dict[str, Any]:
        if ctx.auth_token and image_ref:
            with contextlib.suppress(Exception):
                answer = glance_image(
                    self.http_client, self.glance_url(), ctx.auth_token, image_ref
                )
                if answer.status_code == 200:
                    found: dict[str, Any] = answer.json()
                    return found
        return {"name": image_ref}

    def _respawn(self, ctx: RequestContext, uuid: str) -> None:
        """Define and start a guest the hypervisor does not know, from the instance."""
        with self.main_cell() as s:
            row = s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
            image_ref, flavor, network_info = row.image_ref, dict(row.flavor), row.network_info
        self._spawn(ctx, uuid, image_ref, flavor, list(network_info or []))

    # ---- the libvirt driver's domain ------------------------------------------------------
    def _guest_spec(
        self,
        uuid: str,
        image: dict[str, Any],
        image_ref: str,
        flavor: dict[str, Any],
        network_info: list[dict[str, Any]],
        instance: dict[str, Any] | None = None,
    ) -> GuestSpec:
        """The domain Nova's libvirt driver would define for this instance (``instance``:
        its :func:`_guest_fields`, when the caller has just read them)."""
        if instance is None:
            with self.main_cell() as s:
                instance = _guest_fields(
                    s.scalars(select(m.Instance).where(m.Instance.uuid == uuid)).one()
                )
        properties = {
            k: str(v) for k, v in image.items() if k not in GLANCE_IMAGE_FIELDS and v is not None
        }
        name = instance["display_name"] or ""
        drive = None
        if metadata.config_drive_wanted(instance, self.nova_conf.force_config_drive, properties):
            try:
                drive = metadata.documents(self, uuid)
            except (LookupError, ServiceUnreachable) as exc:
                raise BuildAborted(
                    f"Build of instance {uuid} aborted: Failed to build the config drive: {exc}"
                ) from None
        return GuestSpec(
            uuid=uuid,
            name=name,
            hostname=sanitize_hostname(name, f"Server-{uuid}"),
            host=self.host,  # the machine whose L2 agent plugs the ports
            project_id=instance["project_id"],
            image_name=str(image.get("name") or image_ref),
            vcpus=int(flavor["vcpus"]),
            memory_mb=int(flavor["memory_mb"]),
            disk_gb=int(flavor.get("root_gb") or 0),
            nics=tuple(self._nics(network_info)),
            image_properties=properties,
            config_drive=drive,
        )

    def _nics(self, network_info: list[dict[str, Any]]) -> list[GuestNic]:
        nics = []
        for port in network_info:
            v4 = [ip for ip in port.get("fixed_ips", []) if ":" not in ip]
            if not v4:
                continue
            details = port if port.get("cidr") else self._port_details(port["port_id"])
            nics.append(
                GuestNic(
                    port_id=port["port_id"],
                    network_id=port["network_id"],
                    mac=port.get("mac_address", ""),
                    address=v4[0],
                    cidr=details.get("cidr") or f"{v4[0]}/32",
                    gateway=details.get("gateway"),
                    mtu=int(details.get("mtu") or 1500),
                )
            )
        return nics

    def _port_details(self, port_id: str) -> dict[str, Any]:
        """What an older network info cache lacks, asked from Neutron."""
        try:
            answer = self.neutron.request("GET", f"/ports/{port_id}")
            if answer.status_code != 200:
                return {}
            port = answer.json()["port"]
            details = self._subnet_of(port)
            network = self.neutron.request("GET", f"/networks/{port['network_id']}")
            if network.status_code == 200:
                details["mtu"] = network.json()["network"].get("mtu") or 1500
            return details
        except ServiceUnreachable:
            return {}

    # ---- RPC: the console ----------------------------------------------------------------
    def get_console_output(
        self, ctx: RequestContext, instance_uuid: str, tail_length: Any = None
    ) -> str:
        """The guest's serial console (``console.log``), its last ``tail_length`` lines as
        Nova's ``_tail_log`` cuts them."""
        self.log.info("[%s] [instance: %s] Get console output", ctx.request_id, instance_uuid)
        try:
            lines = self.ctx.hypervisors.console(instance_uuid)
        except GuestNotFound:
            raise RemoteError(
                "InstanceNotFound", f"Instance {instance_uuid} could not be found."
            ) from None
        output = "".join(f"{line}\n" for line in lines)
        if tail_length is None:
            return output
        try:
            length = int(tail_length)
        except (TypeError, ValueError):
            length = 0
        return "\n".join(output.split("\n")[-length:]) if length else ""

    # ---- RPC: the other actions ----------------------------------------------------------
    def terminate_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        with self.cell1_transaction() as tx:
            found = _TERMINATE_ROW.one(tx, uuid=instance_uuid)
            if found is None or found[0]:
                return
            action = _latest_action(tx, instance_uuid, "delete")
            event = self._event_start(tx, action, "compute_terminate_instance")
            flavor, was_active = dict(found[1]), found[2] != "error"
        self.ctx.hypervisors.destroy(instance_uuid)
        try:
            ports = self.neutron.request("GET", f"/ports?device_id={instance_uuid}")
            for port in ports.json().get("ports", []) if ports.status_code == 200 else []:
                self.neutron.request("DELETE", f"/ports/{port['id']}")
        except ServiceUnreachable as exc:
            self.log.warning(
                "[%s] could not delete ports of %s: %s", ctx.request_id, instance_uuid, exc
            )
        try:
            self.placement.request("DELETE", f"/allocations/{instance_uuid}")
        except ServiceUnreachable as exc:
            self.log.warning(
                "[%s] could not free allocations of %s: %s", ctx.request_id, instance_uuid, exc
            )
        if was_active:
            self._claim(flavor, -1)
        self._set(
            ctx,
            instance_uuid,
            vm_state="deleted",
            task_state=None,
            power_state=POWER_NOSTATE,
            terminated_at=self.now_iso(),
            deleted=True,
        )
        if event is not None:
            self._event_finish(event, "Success")

    def stop_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        self._power(
            ctx,
            instance_uuid,
            "stop",
            "compute_stop_instance",
            "stopped",
            POWER_SHUTDOWN,
            lambda: self.ctx.hypervisors.power_off(instance_uuid),
        )

    def start_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        self._power(
            ctx,
            instance_uuid,
            "start",
            "compute_start_instance",
            "active",
            POWER_RUNNING,
            lambda: self._guest_up(ctx, instance_uuid, self.ctx.hypervisors.power_on),
        )

    def reboot_instance(self, ctx: RequestContext, instance_uuid: str, reboot_type: str) -> None:
        hard = str(reboot_type).upper() == "HARD"
        self._power(
            ctx,
            instance_uuid,
            "reboot",
            "compute_reboot_instance",
            "active",
            POWER_RUNNING,
            lambda: self._guest_up(
                ctx, instance_uuid, lambda uuid: self.ctx.hypervisors.reboot(uuid, hard)
            ),
        )

    def _guest_up(self, ctx: RequestContext, uuid: str, action: Callable[[str], None]) -> None:
        """Power on or reboot the domain; one the hypervisor lost is defined again (a hard
        reboot's ``_hard_reboot`` recreates it from the instance)."""
        try:
            action(uuid)
        except GuestNotFound:
            self._respawn(ctx, uuid)

    def _power(
        self,
        ctx: RequestContext,
        uuid: str,
        name: str,
        event_name: str,
        vm_state: str,
        power: int,
        driver: Callable[[], None],
    ) -> None:
        with self.cell1_transaction() as tx:
            action = _latest_action(tx, uuid, name)
            event = self._event_start(tx, action, event_name)
        try:
            driver()
        except BuildAborted as exc:
            self.log.error("[%s] [instance: %s] %s", ctx.request_id, uuid, exc)
            self._set(ctx, uuid, task_state=None)
            self._event_finish(event, "Error", traceback=str(exc))
            return
        self._set(ctx, uuid, vm_state=vm_state, task_state=None, power_state=power)
        if event is not None:
            self._event_finish(event, "Success")

    # ---- RPC: rebuild and resize (the steps are in moves.py) -----------------------------
    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, image_ref: str, orig_image_ref: str
    ) -> None:
        moves.rebuild_instance(self, ctx, instance_uuid, image_ref)

    def prep_resize(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        moves.prep_resize(self, ctx, instance_uuid, migration_uuid)

    def resize_instance(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        moves.resize_instance(self, ctx, instance_uuid, migration_uuid)

    def finish_resize(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        moves.finish_resize(self, ctx, instance_uuid, migration_uuid)

    def confirm_resize(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        moves.confirm_resize(self, ctx, instance_uuid, migration_uuid)

    def revert_resize(self, ctx: RequestContext, instance_uuid: str, migration_uuid: str) -> None:
        moves.revert_resize(self, ctx, instance_uuid, migration_uuid)

    def finish_revert_resize(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        moves.finish_revert_resize(self, ctx, instance_uuid, migration_uuid)

    # ---- bookkeeping -------------------------------------------------------------------
    def _set(self, ctx: RequestContext, uuid: str, **values: Any) -> None:
        """Save instance fields; a task or vm state change is a trace event, and in a
        stepped pace the sim lets a moment pass so the learner sees it.

        One ``UPDATE ... RETURNING`` (the states as they are now) rather than a read and a
        write: a boot saves its state five times. Fields are named as the model's
        attributes; an instance that does not exist raises NoResultFound."""
        statement = _saving(tuple(values))
        named = {f"v_{key}": value for key, value in values.items()}
        with self.cell1_transaction() as tx:
            saved = statement.run(tx, uuid=uuid, updated_at=self.now_iso(), **named)
        if not saved:
            raise NoResultFound("No row was found when one was required")
        state = saved[0]
        if "task_state" in values or "vm_state" in values:
            self.runtime.tracer.note(
                ctx, "state", f"{state[0]}/{state[1] or '-'}", state[0], instance=uuid
            )
            if self.room.pace:
                self.runtime.wait(self.room.pace)

    def _claim(self, flavor: dict[str, Any], sign: int) -> None:
        with self.cell1_transaction() as tx:
            self._claim_in(tx, flavor, sign)

    def _claim_in(self, tx: Transaction, flavor: dict[str, Any], sign: int) -> None:
        """The resource tracker's usage on this node (never below 0), in the caller's
        transaction: one UPDATE of the host's compute node (none registered: nothing)."""
        _CLAIM.run(
            tx,
            host=self.service_host(),
            vcpus=sign * int(flavor["vcpus"]),
            memory_mb=sign * int(flavor["memory_mb"]),
            local_gb=sign * int(flavor["root_gb"]),
            vms=sign,
        )

    def _fail(self, ctx: RequestContext, uuid: str, event: int | None, message: str) -> None:
        self.log.error(
            "[%s] [instance: %s] Build of instance aborted: %s", ctx.request_id, uuid, message
        )
        with contextlib.suppress(ServiceUnreachable):
            self.placement.request("DELETE", f"/allocations/{uuid}")
        self._set(
            ctx,
            uuid,
            vm_state="error",
            task_state=None,
            fault={"code": 500, "message": message, "details": message, "created": self.now_iso()},
        )
        if event is not None:
            self._event_finish(event, "Error", traceback=message)

    def _event_start(self, tx: Transaction, action: int | None, name: str) -> int | None:
        """Start an event of the action with id ``action``; the event's id."""
        if action is None:
            return None
        made = _EVENT_START.run(
            tx, action_id=action, event=name, start_time=self.now_iso(), host=self.service_host()
        )
        return int(made[0][0])

    def _event_finish(
        self, event_id: int | None, result: str, traceback: str | None = None
    ) -> None:
        if event_id is None:
            return
        now = self.now_iso()
        with self.cell1_transaction() as tx:
            found = _EVENT_FINISH.run(
                tx, id=event_id, finish_time=now, result=result, traceback=traceback
            )
            if not found or found[0][0] is None:
                return
            finish = _ACTION_FAILED if result == "Error" else _ACTION_FINISHED
            finish.run(tx, id=found[0][0], now=now)

    @contextlib.contextmanager
    def cell1_transaction(self) -> Iterator[Transaction]:
        """A write transaction on cell1 with statements compiled once (core/sql.py): what
        :meth:`main_cell` is for the writes each boot makes a dozen times."""
        found = self.nova_cells.cell1()
        if found is None:
            raise ServiceFailed(
                "No cell mapping found for cell1: run nova-manage cell_v2 create_cell"
            )
        with found[1].transaction() as tx:
            yield tx


# The statements of a boot's bookkeeping, compiled once and run in a cell1 transaction
# (core/sql.py): no ORM object loaded first, no statement built again per boot
_INSTANCES = cast(Table, m.Instance.__table__)
_EVENTS = cast(Table, m.InstanceActionEvent.__table__)
_ACTIONS = cast(Table, m.InstanceAction.__table__)
_NODES = cast(Table, m.ComputeNode.__table__)
# attribute name -> column, for the UPDATEs of :meth:`NovaCompute._set`
_INSTANCE_COLUMNS = {attr.key: attr.columns[0] for attr in m.Instance.__mapper__.column_attrs}


@functools.cache
def _saving(keys: tuple[str, ...]) -> PreparedWrite:
    """:meth:`NovaCompute._set`'s UPDATE of these fields (and ``updated_at``), returning
    the states as they are now: one statement per set of fields a caller saves."""
    columns: dict[Any, Any] = {_INSTANCE_COLUMNS[key]: bindparam(f"v_{key}") for key in keys}
    columns[_INSTANCE_COLUMNS["updated_at"]] = bindparam("updated_at")
    return PreparedWrite(
        update(_INSTANCES)
        .where(_INSTANCES.c.uuid == bindparam("uuid"))
        .values(columns)
        .returning(_INSTANCES.c.vm_state, _INSTANCES.c.task_state)
    )


# What a build reads of its instance
_BuildRow = namedtuple(
    "_BuildRow", "deleted flavor image_ref created_at config_drive display_name project_id"
)
_BUILD_ROW = Prepared(
    select(*(getattr(m.Instance, name) for name in _BuildRow._fields)).where(
        m.Instance.uuid == bindparam("uuid")
    )
)
# ... and a delete
_TERMINATE_ROW = Prepared(
    select(m.Instance.deleted, m.Instance.flavor, m.Instance.vm_state).where(
        m.Instance.uuid == bindparam("uuid")
    )
)
# The server's latest action of a name (its events are not loaded)
_LATEST_ACTION = Prepared(
    select(m.InstanceAction.id)
    .where(
        m.InstanceAction.instance_uuid == bindparam("uuid"),
        m.InstanceAction.action == bindparam("name"),
    )
    .order_by(m.InstanceAction.id.desc())
    .limit(1)
)
_EVENT_START = PreparedWrite(
    insert(_EVENTS)
    .values(
        action_id=bindparam("action_id"),
        event=bindparam("event"),
        start_time=bindparam("start_time"),
        host=bindparam("host"),
    )
    .returning(_EVENTS.c.id)
)
_EVENT_FINISH = PreparedWrite(
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("id"))
    .values(
        finish_time=bindparam("finish_time"),
        result=bindparam("result"),
        traceback=bindparam("traceback"),
    )
    .returning(_EVENTS.c.action_id)
)
_ACTION_FINISHED = PreparedWrite(
    update(_ACTIONS)
    .where(_ACTIONS.c.id == bindparam("id"))
    .values(finish_time=bindparam("now"), updated_at=bindparam("now"))
)
_ACTION_FAILED = PreparedWrite(
    update(_ACTIONS)
    .where(_ACTIONS.c.id == bindparam("id"))
    .values(finish_time=bindparam("now"), updated_at=bindparam("now"), message="Error")
)


def _moved(column: Any, amount: str) -> Any:
    return func.max(0, column + bindparam(amount, type_=Integer))  # SQLite's scalar max()


# The resource tracker's claim: the usage of the host's (first) compute node moved
_CLAIM = PreparedWrite(
    update(_NODES)
    .where(
        _NODES.c.id
        == select(_NODES.c.id)
        .where(_NODES.c.host == bindparam("host"))
        .order_by(_NODES.c.id)
        .limit(1)
        .scalar_subquery()
    )
    .values(
        vcpus_used=_moved(_NODES.c.vcpus_used, "vcpus"),
        memory_mb_used=_moved(_NODES.c.memory_mb_used, "memory_mb"),
        local_gb_used=_moved(_NODES.c.local_gb_used, "local_gb"),
        running_vms=_moved(_NODES.c.running_vms, "vms"),
    )
)


def _guest_fields(row: Any) -> dict[str, Any]:
    """What the libvirt driver's domain takes from the instance itself."""
    return {
        "config_drive": row.config_drive,
        "display_name": row.display_name,
        "project_id": row.project_id,
    }


def _latest_action(tx: Transaction, uuid: str, name: str) -> int | None:
    """The id of the server's latest action of that name."""
    found = _LATEST_ACTION.one(tx, uuid=uuid, name=name)
    return int(found[0]) if found is not None else None


def _inventory(total: int, reserved: int, ratio: float) -> dict[str, Any]:
    return {
        "total": total,
        "reserved": reserved,
        "min_unit": 1,
        "max_unit": total,
        "step_size": 1,
        "allocation_ratio": ratio,
    }


def _neutron_message(text: str) -> str:
    try:
        return str(json.loads(text)["NeutronError"]["message"])
    except (ValueError, KeyError, TypeError):
        return text[:200]
