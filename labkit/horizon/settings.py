"""Horizon's ``local_settings.py``, as Install Guide section 7 (Zed, Debian) has you edit it.

Horizon is a Django site. It keeps no database of its own: every page asks the other
services through their Python clients, with the token Keystone gave the user at login. So
its configuration is mostly *where Keystone is* (``OPENSTACK_KEYSTONE_URL``; the catalog in
the token says where everything else is), *where to keep sessions* (memcached) and *what
this cloud does not have* (no routers on the Install Guide's flat provider network).

:func:`local_settings` writes the file the plan shows and the controller gets.
:func:`live_overrides` is what labkit appends when it runs the real Horizon next to the sim
(:mod:`labkit.horizon.server`): the sim's memcached is not a process a Django cache can
reach, so sessions live in Horizon's own memory (one process of threads; a restart logs
everyone out), and static files come from the folder built with the virtual environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardValues:
    """The values the Install Guide has you fill in."""

    openstack_host: str  # the guide's "controller"
    keystone_url: str  # OPENSTACK_KEYSTONE_URL, the identity v3 endpoint
    memcached: str  # CACHES location, "controller:11211"
    allowed_hosts: tuple[str, ...] = ("*",)
    time_zone: str = "UTC"
    default_role: str = "member"


def _py(value: object) -> str:
    return repr(value)


def local_settings(values: DashboardValues) -> str:
    """``/etc/openstack-dashboard/local_settings.py``: the settings section 7 names, each
    with the reason it is there."""
    hosts = ", ".join(_py(h) for h in values.allowed_hosts)
    return f"""\
# /etc/openstack-dashboard/local_settings.py -- Install Guide section 7 (Zed), written by labkit
DEBUG = False

# Where Keystone runs. Horizon finds every other service in the catalog of the user's token.
OPENSTACK_HOST = {_py(values.openstack_host)}
OPENSTACK_KEYSTONE_URL = {_py(values.keystone_url.rstrip("/"))}

# Which host names the dashboard answers to ('*': any, fine on a lab network only).
ALLOWED_HOSTS = [{hosts}]

# Sessions live in memcached: any Apache worker can then serve any request of a session.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
CACHES = {{
    "default": {{
        "BACKEND": "django.core.cache.backends.memcached.MemcachedCache",
        "LOCATION": {_py(values.memcached)},
    }}
}}

# The login form asks for a domain; users are in "Default" unless you made others (06).
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = True
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
# The role Horizon grants when it adds a user to a project. The guide writes "user", a role
# Zed's keystone-manage bootstrap no longer creates; the lab grants "member" (as bootstrap).
OPENSTACK_KEYSTONE_DEFAULT_ROLE = {_py(values.default_role)}

OPENSTACK_API_VERSIONS = {{
    "identity": 3,
    "image": 2,
    "volume": 3,
}}

# Provider networks only (the guide's "networking option 1"): no routers, no floating IPs.
OPENSTACK_NEUTRON_NETWORK = {{
    "enable_router": False,
    "enable_quotas": False,
    "enable_ipv6": False,
    "enable_distributed_router": False,
    "enable_ha_router": False,
    "enable_fip_topology_check": False,
}}

TIME_ZONE = {_py(values.time_zone)}
"""


def live_overrides(secret_key_file: str, static_root: str) -> str:
    """What labkit appends to the controller's file to run the real Horizon on this machine,
    next to the sim (not part of the Install Guide)."""
    return f"""
# ---- appended by labkit to run the real Horizon next to the sim (not the Install Guide) ----
# The sim's memcached is simulated: a Django cache cannot reach it. One process of threads
# keeps sessions in its own memory instead (restarting the dashboard logs everyone out).
CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}}}
from horizon.utils import secret_key as _secret_key  # noqa: E402

SECRET_KEY = _secret_key.generate_or_read_from_file({secret_key_file!r})
# CSS and JavaScript were compressed once, when labkit built Horizon's virtual environment.
STATIC_ROOT = {static_root!r}
COMPRESS_ROOT = STATIC_ROOT
COMPRESS_OFFLINE = True
"""
