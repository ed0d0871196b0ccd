"""Removing a port or a subnet with everything that hangs off it (allocations, bindings,
pools, tags). Shared by the modules that delete them directly and by network deletion."""

from __future__ import annotations

from sqlalchemy import delete

from labkit.sim.neutron import models as m
from labkit.sim.neutron.db import Tx


def remove_port(tx: Tx, port: m.Port) -> None:
    tx.s.execute(delete(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
    tx.s.execute(delete(m.PortBinding).where(m.PortBinding.port_id == port.id))
    tx.s.execute(
        delete(m.SecurityGroupPortBinding).where(m.SecurityGroupPortBinding.port_id == port.id)
    )
    tx.delete_resource(port)


def remove_subnet(tx: Tx, subnet: m.Subnet) -> None:
    tx.s.execute(delete(m.IPAllocation).where(m.IPAllocation.subnet_id == subnet.id))
    tx.s.execute(delete(m.IPAllocationPool).where(m.IPAllocationPool.subnet_id == subnet.id))
    tx.delete_resource(subnet)
