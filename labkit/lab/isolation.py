"""Who may see and touch what: one user's tries against another project's things, with the
cloud's own answers.

Projects are Keystone's unit of ownership, and every service checks it on every request:
a member of Project 1 who knows the id of Project 2's server, private image, port or
security group gets a **404** -- "could not be found", as if it did not exist (telling
would leak that it does) -- and a **403** where the call itself is not theirs to make
(another project's quota). Keypairs belong to *users*, not projects. A *reader* may look;
whether it may change things depends on the policy the operators run: Zed ships the new
"secure RBAC" defaults but leaves ``[oslo_policy] enforce_new_defaults = False``, so Nova,
Neutron and Glance still let any role in the project create -- only admin-only calls
(quotas, Keystone's projects) are refused.

:meth:`Isolation.try_as` tries one thing; :meth:`Isolation.table` a list of them.

Introduced in notebooks/06-projects-quotas.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.display import Aliases, Table
from labkit.errors import LabkitError
from labkit.lab import sdk
from labkit.lab.projects import ref_name

if TYPE_CHECKING:
    from labkit.lab.projects import Projects


@dataclass(frozen=True)
class Attempt:
    """One try by one user, and what the cloud answered."""

    user: str
    action: str
    target: str
    call: str  # the API call, ids replaced by names
    status: int
    answer: str

    @property
    def allowed(self) -> bool:
        return self.status < 400

    def __str__(self) -> str:
        return f"{self.user}: {self.action} {self.target} -> {self.status} {self.answer}".strip()

    def __repr__(self) -> str:
        return str(self)


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 409: "Conflict", 503: "Service Unavailable", 400: "Bad Request"}


class Isolation:
    def __init__(self, projects: Projects) -> None:
        self.projects = projects

    def try_as(self, user: str, action: str, target: str = "") -> Attempt:
        """Try one thing as ``user`` and report what the cloud answered (status and Nova's,
        Glance's, Neutron's or Keystone's own words, ids replaced by names). ``action`` is one
        of :data:`ACTIONS`; ``target`` names a server, image, keypair, project or port (the
        port of a named server)."""
        from openstack import exceptions

        if action not in ACTIONS:
            raise LabkitError(f"No action {action!r}.", f"Use one of {', '.join(ACTIONS)}.")
        conn = self.projects.connect(user)
        names = self._names()
        resolved = self._resolve(action, target, names)
        do, call = ACTIONS[action]
        try:
            status, answer = do(self.projects, conn, resolved)
        except exceptions.HttpException as exc:
            status = int(exc.status_code or 0)
            answer = _message(exc)
        return Attempt(
            user,
            action,
            target,
            names.replace_in(call.format(id=resolved)),
            status,
            names.replace_in(answer),
        )

    def _names(self) -> Aliases:
        """Keystone's aliases, minus ids that are plain words: the Default domain's id is
        ``default``, which would turn a "default" group into "domain:Default"."""
        out = Aliases()
        for ident, alias in self.projects.aliases().items():
            if len(ident) >= 16:
                out.add(ident, alias)
        return out

    def _resolve(self, action: str, target: str, names: Aliases) -> str:
        """The id a user who knows it would use (found as admin), named in ``names``."""
        admin = self.projects.admin
        kind = action.split()[-1]
        if not target:
            return ""
        if kind == "server":
            found = admin.compute.find_server(target, ignore_missing=False, all_projects=True)
            names.add(found.id, target, "server")
            return str(found.id)
        if kind == "image":
            image = sdk.image(admin).find_image(target, ignore_missing=False)
            names.add(image.id, target, "image")
            return str(image.id)
        if kind == "port":
            server = admin.compute.find_server(target, ignore_missing=False, all_projects=True)
            ports = list(admin.network.ports(device_id=server.id))
            if not ports:
                raise LabkitError(f"{target} has no port.", "Boot it on a network first.")
            names.add(ports[0].id, target, "port")
            return str(ports[0].id)
        if kind == "group":
            pid = self.projects.project_id(target)
            groups = list(admin.network.security_groups(project_id=pid, name="default"))
            names.add(groups[0].id, f"{ref_name(target)}-default", "secgroup")
            return str(groups[0].id)
        if kind in ("quota", "project"):
            return self.projects.project_id(target) if target else ""
        return target  # keypairs go by name

    def table(self, attempts: Sequence[tuple[str, str, str]]) -> Table:
        """Each ``(user, action, target)`` tried, with the cloud's answer."""
        t = Table(["who", "tries", "API call", "answer"], title="Who may see and touch what")
        for user, action, target in attempts:
            a = self.try_as(user, action, target)
            project = (
                self.projects.seed.home_project(user) if user not in ("admin", "demo") else user
            )
            role = (
                dict(self.projects.seed.user(user).roles).get(project, "")
                if project != user
                else ""
            )
            who = f"{user} ({role} of {project})" if role else user
            t.add(
                who,
                f"{action} {target}".strip(),
                a.call,
                f"{a.status} {_REASONS.get(a.status, '')}: {a.answer}".strip(),
                mark="ok" if a.allowed else "fail",
            )
        return t

    # ---- what the isolation section makes, and takes away --------------------------------
    def make_private_things(self, user: str) -> Table:
        """As ``user``: a private image (no data, so it stays queued) and a keypair, both
        named after the user, so others can try to reach them. Idempotent."""
        conn = self.projects.connect(user)
        image_api = sdk.image(conn)
        t = Table(["what", "name", "visibility"], title=f"{user}'s own things")
        image_name = f"{user}-private"
        if image_api.find_image(image_name) is None:
            image_api.create_image(
                name=image_name, disk_format="qcow2", container_format="bare", visibility="private"
            )
        t.add("image", image_name, "private: only its project sees it")
        key_name = f"{user}-key"
        if conn.compute.find_keypair(key_name) is None:
            conn.compute.create_keypair(name=key_name, public_key=_public_key())
        t.add("keypair", key_name, f"{user}'s alone (keypairs belong to users)")
        return t

    def remove_private_things(self, user: str) -> None:
        conn = self.projects.connect(user)
        image_api = sdk.image(conn)
        image = image_api.find_image(f"{user}-private")
        if image is not None:
            image_api.delete_image(image)
        key = conn.compute.find_keypair(f"{user}-key")
        if key is not None:
            conn.compute.delete_keypair(key)


def _message(exc: Any) -> str:
    """The service's own words from an openstacksdk exception, on one line."""
    text = str(getattr(exc, "details", "") or "") or str(exc)
    text = " ".join(text.split())
    # Glance answers with WebOb's page: "404 Not Found: No image found with ID ...".
    for code, reason in _REASONS.items():
        for sep in (": ", " "):
            text = text.removeprefix(f"{code} {reason}{sep}")
    return text


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " labkit-06"


# ---- the actions try_as knows ------------------------------------------------------------------

Action = Callable[["Projects", Any, str], tuple[int, str]]


def _seen(names: list[str], wanted: str) -> str:
    """What a list shows, and whether ``wanted`` is in it."""
    shown = f"sees {', '.join(names)}" if names else "sees none"
    if wanted:
        shown += f"; {wanted} {'among them' if wanted in names else 'not among them'}"
    return shown


def _list_servers(p: Projects, conn: Any, wanted: str) -> tuple[int, str]:
    return 200, _seen(sorted(s.name for s in conn.compute.servers()), wanted)


def _show_server(p: Projects, conn: Any, ident: str) -> tuple[int, str]:
    s = conn.compute.get_server(ident)
    return 200, f"{s.name} is {s.status}"


def _delete_server(p: Projects, conn: Any, ident: str) -> tuple[int, str]:
    conn.compute.delete_server(ident, ignore_missing=False)
    return 204, "deleted"


def _list_images(p: Projects, conn: Any, wanted: str) -> tuple[int, str]:
    names = sorted(i.name for i in sdk.image(conn).images())
    if not wanted:
        return 200, f"sees {len(names)} images"
    return 200, f"{wanted} {'among them' if wanted in names else 'not among them'}"


def _show_image(p: Projects, conn: Any, ident: str) -> tuple[int, str]:
    image = sdk.image(conn).get_image(ident)
    return 200, f"{image.name} ({image.visibility}, {image.status})"


def _list_networks(p: Projects, conn: Any, wanted: str) -> tuple[int, str]:
    nets = sorted(f"{n.name} (shared)" if n.is_shared else n.name for n in conn.network.networks())
    return 200, _seen(nets, wanted)


def _create_network(p: Projects, conn: Any, _: str) -> tuple[int, str]:
    net = conn.network.create_network(name="try-a-network")
    conn.network.delete_network(net)
    return 201, "made (and deleted again)"


def _show_port(p: Projects, conn: Any, ident: str) -> tuple[int, str]:
    port = conn.network.get_port(ident)
    return 200, f"port {port.status}"


def _show_group(p: Projects, conn: Any, ident: str) -> tuple[int, str]:
    group = conn.network.get_security_group(ident)
    return 200, f"{group.name}, {len(group.security_group_rules or [])} rules"


def _show_keypair(p: Projects, conn: Any, name: str) -> tuple[int, str]:
    key = conn.compute.get_keypair(name)
    return 200, f"{key.name} ({key.type})"


def _show_quota(p: Projects, conn: Any, pid: str) -> tuple[int, str]:
    q = conn.compute.get_quota_set(pid)
    return 200, f"cores {q.cores}, ram {q.ram}, instances {q.instances}"


def _set_quota(p: Projects, conn: Any, pid: str) -> tuple[int, str]:
    current = p.admin.compute.get_quota_set(pid)
    conn.compute.update_quota_set(pid, cores=current.cores)  # the same value: a no-op if let
    return 200, "set (to the value it had)"


def _create_server(p: Projects, conn: Any, _: str) -> tuple[int, str]:
    from openstack import exceptions

    server = conn.compute.create_server(
        name="try-a-server",
        flavor_id=conn.compute.find_flavor("m1.nano", ignore_missing=False).id,
        image_id=conn.image.find_image("cirros", ignore_missing=False).id,
        networks="auto",
    )
    admin = p.admin.compute
    # Deleted once it has left BUILD: the sim can lose a server deleted while it is being
    # scheduled (listed, yet 404 to GET and DELETE) -- and a learner would wait too.
    with contextlib.suppress(exceptions.ResourceFailure):  # ERROR: delete it all the same
        admin.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.5, wait=120)
    admin.delete_server(server.id)
    admin.wait_for_delete(server, interval=0.5, wait=120)
    return 202, "a server was made (and deleted again)"


def _create_project(p: Projects, conn: Any, _: str) -> tuple[int, str]:
    identity = sdk.identity(conn)
    domain = identity.get_project(conn.current_project_id).domain_id
    project = identity.create_project(name="try-a-project", domain_id=domain)
    sdk.identity(p.admin).delete_project(project)
    return 201, "made (and deleted again)"


ACTIONS: dict[str, tuple[Action, str]] = {
    "list servers": (_list_servers, "GET /servers"),
    "show server": (_show_server, "GET /servers/{id}"),
    "delete server": (_delete_server, "DELETE /servers/{id}"),
    "list images": (_list_images, "GET /v2/images"),
    "show image": (_show_image, "GET /v2/images/{id}"),
    "list networks": (_list_networks, "GET /v2.0/networks"),
    "create network": (_create_network, "POST /v2.0/networks"),
    "show port": (_show_port, "GET /v2.0/ports/{id}"),
    "show group": (_show_group, "GET /v2.0/security-groups/{id}"),
    "show keypair": (_show_keypair, "GET /os-keypairs/{id}"),
    "show quota": (_show_quota, "GET /os-quota-sets/{id}"),
    "set quota": (_set_quota, "PUT /os-quota-sets/{id}"),
    "create server": (_create_server, "POST /servers"),
    "create project": (_create_project, "POST /v3/projects"),
}
