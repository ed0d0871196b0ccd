"""What every service's config says about Keystone: the ``[keystone_authtoken]`` section its
auth middleware reads, and the logins one service uses to call another (Nova's
``[placement]``, ``[neutron]``, ``[service_user]``; Neutron's ``[nova]``).

Each layer writes the same keys in the same order, as the Install Guide does, so they live
here once.
"""

from __future__ import annotations

from labkit.install.context import PlanContext

Setting = tuple[str, str, str]


def identity_root(ctx: PlanContext) -> str:
    """Keystone's unversioned URL, what the guide puts in [keystone_authtoken]."""
    return ctx.identity_url.rstrip("/").removesuffix("/v3")


def keystone_authtoken(
    ctx: PlanContext, user: str, password: str, slash: bool = False
) -> tuple[Setting, ...]:
    """``[keystone_authtoken]`` for a service that checks tokens as ``user``. The region is
    set because Debian's files ship ``regionOne`` (lower-case r). ``slash``: the URLs end in
    ``/``, as the guide writes them for Nova (clients see it in WWW-Authenticate)."""
    keystone = identity_root(ctx) + ("/" if slash else "")
    section = "keystone_authtoken"
    return (
        (section, "www_authenticate_uri", keystone),
        (section, "auth_url", keystone),
        (section, "memcached_servers", f"{ctx.controller.name}:11211"),
        (section, "auth_type", "password"),
        (section, "project_domain_name", "Default"),
        (section, "user_domain_name", "Default"),
        (section, "project_name", "service"),
        (section, "username", user),
        (section, "password", password),
        (section, "region_name", ctx.region),
    )


def login(ctx: PlanContext, section: str, user: str, password: str) -> tuple[Setting, ...]:
    """A ``[section]`` keystoneauth login one service uses to call another."""
    return (
        (section, "auth_url", f"{identity_root(ctx)}/v3"),
        (section, "auth_type", "password"),
        (section, "project_domain_name", "Default"),
        (section, "user_domain_name", "Default"),
        (section, "region_name", ctx.region),
        (section, "project_name", "service"),
        (section, "username", user),
        (section, "password", password),
    )
