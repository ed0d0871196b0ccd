"""The compute API's routes, one module per resource."""

from __future__ import annotations

from labkit.sim.core.http import Routes


def all_routes() -> Routes:
    from labkit.sim.nova.api import (
        admin,
        aggregates,
        extensions,
        flavor_access,
        flavors,
        hosts,
        hypervisors_legacy,
        images,
        keypairs,
        network_proxies,
        quotas,
        security_group_proxy,
        security_groups,
        server_diagnostics,
        server_ips,
        server_metadata,
        server_password,
        server_update,
        servers,
        simple_tenant_usage,
        usage_audit_log,
        versions,
        volume_attachments,
    )

    table = Routes()
    for module in (
        versions,
        servers,
        server_update,
        server_metadata,
        server_ips,
        server_diagnostics,
        server_password,
        flavors,
        flavor_access,
        hypervisors_legacy,  # before admin: its /os-hypervisors/{id} would take the path
        admin,
        aggregates,
        images,
        quotas,
        keypairs,
        security_groups,
        security_group_proxy,
        network_proxies,
        hosts,
        simple_tenant_usage,
        usage_audit_log,
        extensions,
        volume_attachments,
    ):
        for route in module.routes:
            table.add(route.method, route.template, route.handler)
    return table
