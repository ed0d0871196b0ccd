"""Small helpers the Keystone API modules share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, empty_response, json_response
from labkit.sim.keystone import schemas, views
from labkit.sim.keystone.service import KeystoneApp, body_of, enforce

_TRUE = {"true", "1", "yes", "on"}


def ks(call: Call) -> KeystoneApp:
    assert isinstance(call.service, KeystoneApp)
    return call.service


def filters(
    call: Call, names: tuple[str, ...], booleans: tuple[str, ...] = ("enabled",)
) -> dict[str, Any]:
    """Query-string filters Keystone honours for a collection (others are ignored)."""
    out: dict[str, Any] = {}
    for name in names:
        if name in call.query:
            value: Any = call.query[name]
            if name in booleans:
                value = value.lower() in _TRUE
            out[name] = value
    return out


@dataclass(frozen=True)
class SystemResource:
    """A Keystone collection administered system-wide (roles, services, endpoints): its
    five calls differ only in names, so they are made from this description.

    ``store`` provides ``list_<kind>s(s, filters)``, ``create_<kind>(s, id, data)``,
    ``get_<kind>(s, id)``, ``update_<kind>(s, obj, data)`` and ``delete_<kind>(s, obj)``;
    policy rules are ``identity:<verb>_<kind>``.
    """

    kind: str
    store: ModuleType
    view: Callable[[Any, str], dict[str, Any]]
    create_schema: dict[str, Any]
    update_schema: dict[str, Any]
    filters: tuple[str, ...]
    plural: str = ""  # default: kind + "s"
    path: str = ""  # default: /v3/<plural>
    # what a create answers, when it shows more than the other calls (a consumer's secret)
    created_view: Callable[[Any, str], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not self.plural:
            object.__setattr__(self, "plural", f"{self.kind}s")
        if not self.path:
            object.__setattr__(self, "path", f"/v3/{self.plural}")

    def op(self, verb: str) -> Callable[..., Any]:
        name = f"list_{self.plural}" if verb == "list" else f"{verb}_{self.kind}"
        return getattr(self.store, name)  # type: ignore[no-any-return]


def add_system_resource(routes: Routes, r: SystemResource) -> None:
    """GET/POST <path> and GET/PATCH/DELETE <path>/{id}, as Keystone serves them."""

    def list_all(call: Call) -> Response:
        enforce(call, f"identity:list_{r.plural}")
        with ks(call).session() as s:
            items = [r.view(x, call.root_url) for x in r.op("list")(s, filters(call, r.filters))]
        return json_response(views.collection(r.plural, items, call.url))

    def create(call: Call) -> Response:
        enforce(call, f"identity:create_{r.kind}")
        data = body_of(call, r.kind)
        schemas.validate(r.create_schema, data)
        with ks(call).write() as s:
            made = r.op("create")(s, ks(call).runtime.ids.hex_id(), data)
            out = (r.created_view or r.view)(made, call.root_url)
        return json_response({r.kind: out}, 201)

    def get(call: Call, item_id: str) -> Response:
        enforce(call, f"identity:get_{r.kind}")
        with ks(call).session() as s:
            out = r.view(r.op("get")(s, item_id), call.root_url)
        return json_response({r.kind: out})

    def update(call: Call, item_id: str) -> Response:
        enforce(call, f"identity:update_{r.kind}")
        data = body_of(call, r.kind)
        schemas.validate(r.update_schema, data)
        with ks(call).write() as s:
            out = r.view(r.op("update")(s, r.op("get")(s, item_id), data), call.root_url)
        return json_response({r.kind: out})

    def delete(call: Call, item_id: str) -> Response:
        enforce(call, f"identity:delete_{r.kind}")
        with ks(call).write() as s:
            r.op("delete")(s, r.op("get")(s, item_id))
        return empty_response()

    for handler, verb in (
        (list_all, "list"),
        (create, "create"),
        (get, "get"),
        (update, "update"),
        (delete, "delete"),
    ):
        handler.__name__ = f"list_{r.plural}" if verb == "list" else f"{verb}_{r.kind}"
    routes.add("GET", r.path, list_all)
    routes.add("POST", r.path, create)
    routes.add("GET", f"{r.path}/{{item_id}}", get)
    routes.add("PATCH", f"{r.path}/{{item_id}}", update)
    routes.add("DELETE", f"{r.path}/{{item_id}}", delete)
