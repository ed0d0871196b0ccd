"""The API versions a lab speaks, as types: openstacksdk types ``conn.identity`` and
``conn.image`` as any version it supports; every lab (and labkit) uses Identity v3 and
Image v2, and these accessors say so once -- loudly, should a cloud offer another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.errors import LabkitError

if TYPE_CHECKING:
    from keystoneauth1.access import AccessInfo
    from openstack.connection import Connection
    from openstack.identity.v3._proxy import Proxy as IdentityV3
    from openstack.image.v2._proxy import Proxy as ImageV2


def identity(conn: Connection) -> IdentityV3:
    from openstack.identity.v3._proxy import Proxy

    proxy = conn.identity
    if not isinstance(proxy, Proxy):
        raise LabkitError("This cloud's Identity API is not v3.", "labkit needs Keystone's v3 API.")
    return proxy


def image(conn: Connection) -> ImageV2:
    from openstack.image.v2._proxy import Proxy

    proxy = conn.image
    if not isinstance(proxy, Proxy):
        raise LabkitError("This cloud's Image API is not v2.", "labkit needs Glance's v2 API.")
    return proxy


def session_access(conn: Connection) -> AccessInfo:
    """The token (and catalog) the connection's session holds."""
    from keystoneauth1.identity.base import BaseIdentityPlugin

    auth = conn.session.auth
    if not isinstance(auth, BaseIdentityPlugin):
        raise LabkitError(
            "This connection does not authenticate with Keystone.",
            "Use a clouds.yaml entry with a password or token.",
        )
    return auth.get_access(conn.session)
