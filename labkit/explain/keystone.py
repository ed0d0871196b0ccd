"""Keystone's errors: logins refused, unscoped tokens, missing roles, wrong auth URLs.

Keystone says little on purpose (a 401 never tells which half of a login was wrong), so
the causes here list what it could be and the findings look at the lab to narrow it down.
"""

from __future__ import annotations

import os
import re
from typing import Any

from labkit.explain import SERVICE_TYPE_LAYERS, Context, Entry, Facts, layer_from_url

# Keystone's default policy (Zed), summarised for the rules learners meet first.
_ADMIN_ONLY = re.compile(
    r"identity:(create|update|delete)_\w+|identity:(create|revoke)_grant|"
    r"identity:(add|remove)_user_to_group"
)
_READER = re.compile(
    r"identity:(list|get)_(users|user|projects|project|domains|domain|roles|"
    r"role|groups|group|role_assignments|services|service|endpoints|endpoint|"
    r"regions|region)\b"
)


def _needs(action: str) -> str:
    if _ADMIN_ONLY.match(action):
        return f"In Keystone's default policy {action} needs the admin role"
    if _READER.match(action):
        return (
            f"In Keystone's default policy {action} needs reader (or admin) on the system "
            "or on the domain; a project member may only look at itself"
        )
    return f"The policy rule {action} is not one your token's roles satisfy"


def _assignments(lab: Any) -> list[str]:
    conn = lab.connect("admin")
    by_user: dict[str, list[str]] = {}
    for a in conn.identity.role_assignments(include_names=True):
        if not a.user:
            continue
        scope = a.scope or {}
        if "project" in scope:
            where = f"project {scope['project']['name']}"
        elif "domain" in scope:
            where = f"domain {scope['domain']['name']}"
        else:
            where = "the system"
        by_user.setdefault(a.user["name"], []).append(f"{a.role['name']} on {where}")
    return [f"{user} has {', '.join(sorted(roles))}" for user, roles in sorted(by_user.items())]


def _log_line(ctx: Context) -> list[str]:
    lab, req = ctx.lab, ctx.facts.request_id
    if lab.kind != "sim" or not req:
        return []
    for line in reversed(lab.sim.log("keystone", tail=400)):
        if req in line:
            found = re.search(r'"([A-Z]+ [^"]+)" status: (\d+)', line)
            if found:
                return [
                    f"keystone.log has this request ({req}): {found.group(1)} -> {found.group(2)}"
                ]
    return []


def _logins(lab: Any) -> list[str]:
    if lab.kind == "cloud":
        return [f"this lab logs in with the clouds.yaml entry {lab.env.cloud!r}"]
    out = []
    for user in ("admin", "demo"):
        c = lab.credentials(user)
        secret = c.password if lab.kind == "sim" else f"(in {lab.paths.secrets})"
        out.append(
            f"{user} logs in with password {secret} to project {c.project}, "
            f"user and project domain {c.user_domain}"
        )
    return out


def _login_findings(ctx: Context) -> list[str]:
    out = _logins(ctx.lab) + _log_line(ctx)
    set_vars = [
        k
        for k in ("OS_USERNAME", "OS_PROJECT_NAME", "OS_USER_DOMAIN_NAME", "OS_PASSWORD")
        if os.environ.get(k)
    ]
    if set_vars and os.environ.get("OS_CLOUD"):
        out.append(
            f"both OS_CLOUD and {', '.join(set_vars)} are set in this kernel: the "
            "OS_* variables override the clouds.yaml entry"
        )
    return out


def _role_findings(ctx: Context) -> list[str]:
    return ([] if ctx.lab.kind == "cloud" else _assignments(ctx.lab)) + _log_line(ctx)


def _auth_url_findings(ctx: Context) -> list[str]:
    lab = ctx.lab
    out = []
    if lab.kind != "cloud":
        out.append(f"this lab's auth URL is {lab.credentials('admin').auth_url}")
    if os.environ.get("OS_AUTH_URL"):
        out.append(f"OS_AUTH_URL in this kernel is {os.environ['OS_AUTH_URL']}")
    return out


def _installed(ctx: Context) -> list[str]:
    layers = ctx.lab.installed_layers()
    return [f"installed layers in this lab: {', '.join(layers) or 'none'}"]


def _service_layer(ctx: Context) -> str:
    return SERVICE_TYPE_LAYERS.get(ctx.groups.get("service", ""), "keystone")


def _endpoint_fix(ctx: Context) -> str:
    from labkit import install, layers

    layer = layers.find(_service_layer(ctx))
    if layer is None or not layer.install_layers:
        return "Register the service and its endpoints (`openstack endpoint create ...`)."
    if not set(layer.install_layers) <= set(install.names()):
        # Never send the learner to an installer or a notebook that is not there (yet):
        # this turns into the install advice below once the layer's installers exist.
        return (
            f"{layer.title} is not part of this lab yet: labkit has no installer for it, so "
            f"nothing registers its endpoints. Use what the lab has today "
            f"({', '.join(install.names())}); `openstack catalog list` shows the services "
            "this cloud offers."
        )
    name = layer.install_layers[-1]
    notebook = (
        f" (or the install cells of notebook {layer.notebook})"
        if _notebook_exists(layer.notebook)
        else ""
    )
    return (
        f"Install the {layer.title} layer: lab.ensure('{name}'){notebook}; its install "
        "registers the service and endpoints. Then `openstack catalog list` shows them."
    )


def _notebook_exists(name: str) -> bool:
    """Whether the lab's notebooks/ folder (next to the labkit package) has this notebook."""
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "notebooks" / f"{name}.ipynb").is_file()


def _is_login(facts: Facts) -> bool:
    return not facts.url or "/auth/tokens" in facts.url


def _identity_layer(ctx: Context) -> str:
    return layer_from_url(ctx.facts.url or ctx.facts.text, "keystone")


ENTRIES = [
    Entry(
        name="keystone.not-running",
        layer="keystone",
        priority=5,
        pattern=r"Keystone is not running on (?P<host>[\w-]+)",
        title="Keystone is not installed or not started yet",
        cause="The sim answers, but Keystone on {host} has not been installed and started: "
        "every request under /identity gets 503 until it is.",
        fix="Install it: lab.ensure('keystone') (or notebook 02's install cells); from a "
        "terminal, `labkit install sim keystone`.",
        findings=_installed,
    ),
    Entry(
        name="keystone.wrong-auth-url",
        layer="keystone",
        priority=20,
        pattern=r"Could not find versioned identity endpoints.*?(?:Unrecognized schema|"
        r"\(HTTP 40\d\))",
        title="The auth URL does not point at Keystone's API",
        cause="The client fetched the auth URL to discover Keystone's API versions and got a "
        "404: the URL has a typo, a wrong path (the sim serves /identity/v3, a real "
        "controller :5000/v3) or a wrong port.",
        fix="Use the lab's auth URL: lab.use_cli() sets it for the CLI, `labkit openrc admin` "
        "prints it; on real hosts the Install Guide's is http://controller:5000/v3.",
        findings=_auth_url_findings,
    ),
    Entry(
        name="keystone.unscoped",
        layer="keystone",
        priority=22,
        pattern=r"service catalog is empty|EmptyCatalog",
        title="Your token is unscoped: it carries no catalog",
        cause="You logged in without naming a project (or a domain or the system). Keystone "
        "then issues an unscoped token: it proves who you are, but has no roles and an "
        "empty catalog, so the client cannot find any service's endpoint.",
        fix="Name a project: OS_PROJECT_NAME and OS_PROJECT_DOMAIN_NAME in an openrc, "
        "project_name and project_domain_name in clouds.yaml, or `--os-project-name demo "
        "--os-project-domain-name Default`. lab.use_cli('demo') sets all of it.",
    ),
    Entry(
        name="keystone.unreachable",
        layer=_identity_layer,
        priority=25,
        pattern=r"Unable to establish connection to (?P<url>[^\s:]+:?[^\s:]*)|Failed to "
        r"establish a new connection|Name or service not known|timed out",
        title="Nothing answers at the address the client tried",
        cause="No service listens there: Keystone (uwsgi) is stopped on the controller, the "
        "host name does not resolve from here, or a firewall drops the port.",
        fix="Check the URL (`echo $OS_AUTH_URL`, `curl -s URL`); on the controller "
        "`systemctl status keystone` and `ss -tlnp | grep 5000`.",
        findings=_auth_url_findings,
    ),
    Entry(
        name="keystone.no-endpoint",
        layer=_service_layer,
        priority=45,  # generic: a layer's own, more specific entries go first
        pattern=r"(?:(?P<interface>public|internal|admin) endpoint for (?P<service>[\w-]+) "
        r"service(?: in (?P<region>\S+) region)? not found|Service '(?P<service2>"
        r"[\w-]+)' is disabled because)",
        title="The catalog has no endpoint for the {service} service",
        cause="Your token's catalog has no such entry: the {service} service is not "
        "installed yet (installing a layer registers its service and endpoints in "
        "Keystone), or it is registered in another region or for another interface.",
        fix=_endpoint_fix,
        findings=_installed,
    ),
    Entry(
        name="keystone.bad-credentials",
        layer="keystone",
        priority=30,
        status=401,
        pattern=r"requires authentication",
        when=_is_login,
        title="Keystone refused the login (401)",
        cause="Keystone could not authenticate these credentials: a wrong password, an unknown "
        "user, the wrong user domain, or a project the user has no role on. It never "
        "says which -- that would tell an attacker which half was right.",
        fix="Compare OS_USERNAME, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_PROJECT_NAME and "
        "OS_PROJECT_DOMAIN_NAME (or the clouds.yaml entry) with the lab's: `labkit openrc "
        "demo` prints them, lab.use_cli('demo') sets them.",
        findings=_login_findings,
    ),
    Entry(
        name="keystone.token-rejected",
        layer="keystone",
        priority=31,
        status=401,
        pattern=r"requires authentication",
        title="Keystone rejected the token (401)",
        cause="The token is no longer valid: it expired, it was revoked (a logout, a password "
        "change, a role removed), or the Fernet key that made it was rotated out of "
        "the key repository.",
        fix="Log in again (a new connection, or just run the `openstack` command again: the "
        "CLI gets a fresh token each time).",
        findings=_log_line,
    ),
    Entry(
        name="keystone.missing-role",
        layer="keystone",
        priority=30,
        status=403,
        pattern=r"You are not authorized to perform the requested action: "
        r"(?P<action>[\w:]+)",
        title="Forbidden: your token's roles do not allow {action}",
        cause=lambda ctx: (
            f"Keystone checked the policy rule {ctx.groups['action']} against the roles in "
            f"your token and said no. {_needs(ctx.groups['action'])}. (An unscoped token has "
            "no roles at all.)"
        ),
        fix="Do it as a user who has the role: lab.connect('admin'), or `openstack "
        "--os-cloud lab-admin ...`. Granting admin to a project member (`openstack role "
        "add --project demo --user demo admin`) works, but in Zed an admin anywhere is "
        "admin everywhere: think twice.",
        findings=_role_findings,
    ),
    Entry(
        name="keystone.forbidden",
        layer=_identity_layer,
        priority=35,
        status=403,
        title="Forbidden (403)",
        cause="The service understood the request but your token may not do it: a missing "
        "role, a scope that does not fit (project vs domain vs system), or an action "
        "that is never allowed (e.g. deleting an enabled domain).",
        fix="Read the message: it names the rule or the reason. `openstack role assignment "
        "list --names` shows who has which role where.",
    ),
    Entry(
        name="keystone.conflict",
        layer=_identity_layer,
        priority=40,
        status=409,
        pattern=r"Conflict occurred attempting to store (?P<what>[\w ]+?)\b|Duplicate entry",
        title="It already exists (409)",
        cause="Names are unique (users and projects within their domain, roles globally): "
        "the object was made before, maybe by an earlier run of the same cell.",
        fix="Find it instead of creating it (`openstack user show NAME`, conn.identity."
        "find_user(NAME)), or pick another name.",
    ),
    Entry(
        name="keystone.not-found",
        layer=_identity_layer,
        priority=45,
        status=404,
        pattern=r"Could not find (?P<what>[\w ]+?): (?P<name>[^\s,]+?)\.?(?:\s|$)",
        title="There is no {what} {name}",
        cause="Names are looked up inside a domain: a typo, the wrong domain "
        "(OS_PROJECT_DOMAIN_NAME / OS_USER_DOMAIN_NAME), or it was deleted.",
        fix="List what exists: `openstack {what} list`.",
    ),
]
