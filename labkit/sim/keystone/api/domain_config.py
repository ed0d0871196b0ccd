"""``/v3/domains/{domain_id}/config[/{group}[/{option}]]`` and the defaults under
``/v3/domains/config/...``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import domain_config, resource
from labkit.sim.keystone.api._helpers import ks
from labkit.sim.keystone.service import body_of, enforce

routes = Routes()
BASE = "/v3/domains/{domain_id}/config"


def _get(call: Call, domain_id: str, group: str | None, option: str | None) -> Response:
    """Keystone defers an unknown domain's 404 until the configuration is read, which then
    fails first (nothing is configured for it): the answer is the configuration's 404."""
    if group == domain_config.SECURITY_COMPLIANCE:
        enforce(call, "identity:get_security_compliance_domain_config")
        out = domain_config.security_compliance(domain_id, resource.DEFAULT_DOMAIN_ID, option)
        with ks(call).session() as s:
            resource.get_domain(s, domain_id)
        return json_response({"config": out})
    enforce(call, "identity:get_domain_config")
    with ks(call).session() as s:
        out = domain_config.show(s, domain_id, group, option)
    return json_response({"config": out})


def _patch(call: Call, domain_id: str, group: str | None, option: str | None) -> Response:
    enforce(call, "identity:update_domain_config")
    with ks(call).write() as s:
        resource.get_domain(s, domain_id)
        body: dict[str, Any] = body_of(call, "config")
        out = domain_config.update(s, domain_id, body, group, option)
    return json_response({"config": out})


def _delete(call: Call, domain_id: str, group: str | None, option: str | None) -> Response:
    enforce(call, "identity:delete_domain_config")
    with ks(call).write() as s:
        resource.get_domain(s, domain_id)
        domain_config.remove(s, domain_id, group, option)
    return empty_response()


@routes.put(BASE)
def create_config(call: Call, domain_id: str) -> Response:
    """PUT replaces the whole configuration: 201 when the domain had none, else 200."""
    enforce(call, "identity:create_domain_config")
    with ks(call).write() as s:
        resource.get_domain(s, domain_id)
        config = body_of(call, "config")
        existed = domain_config.exists(s, domain_id)
        out = domain_config.replace(s, domain_id, config)
    return json_response({"config": out}, 200 if existed else 201)


@routes.get(BASE)
def get_config(call: Call, domain_id: str) -> Response:
    return _get(call, domain_id, None, None)


@routes.patch(BASE)
def update_config(call: Call, domain_id: str) -> Response:
    return _patch(call, domain_id, None, None)


@routes.delete(BASE)
def delete_config(call: Call, domain_id: str) -> Response:
    return _delete(call, domain_id, None, None)


@routes.get(BASE + "/{group}")
def get_group(call: Call, domain_id: str, group: str) -> Response:
    return _get(call, domain_id, group, None)


@routes.patch(BASE + "/{group}")
def update_group(call: Call, domain_id: str, group: str) -> Response:
    return _patch(call, domain_id, group, None)


@routes.delete(BASE + "/{group}")
def delete_group(call: Call, domain_id: str, group: str) -> Response:
    return _delete(call, domain_id, group, None)


@routes.get(BASE + "/{group}/{option}")
def get_option(call: Call, domain_id: str, group: str, option: str) -> Response:
    return _get(call, domain_id, group, option)


@routes.patch(BASE + "/{group}/{option}")
def update_option(call: Call, domain_id: str, group: str, option: str) -> Response:
    return _patch(call, domain_id, group, option)


@routes.delete(BASE + "/{group}/{option}")
def delete_option(call: Call, domain_id: str, group: str, option: str) -> Response:
    return _delete(call, domain_id, group, option)


def _defaults(call: Call, group: str | None, option: str | None) -> Response:
    enforce(call, "identity:get_domain_config_default")
    return json_response({"config": domain_config.defaults(group, option)})


@routes.get("/v3/domains/config/default")
def get_defaults(call: Call) -> Response:
    return _defaults(call, None, None)


@routes.get("/v3/domains/config/{group}/default")
def get_group_defaults(call: Call, group: str) -> Response:
    return _defaults(call, group, None)


@routes.get("/v3/domains/config/{group}/{option}/default")
def get_option_default(call: Call, group: str, option: str) -> Response:
    return _defaults(call, group, option)
