"""Nova's error bodies: ``{"itemNotFound": {"code": 404, "message": "..."}}`` and friends.

The key names are webob's exception classes as Nova's fault wrapper maps them
(``nova/api/openstack/wsgi.py`` Fault): 400 badRequest, 403 forbidden, 404 itemNotFound,
405 badMethod, 406/500 computeFault, 409 conflictingRequest, 413 overLimit, 501
notImplemented. The texts are Nova's own (``nova/exception.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.sim.core.http import HttpError

_KEYS = {
    400: "badRequest",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "computeFault",
    409: "conflictingRequest",
    413: "overLimit",
    500: "computeFault",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class BuildAborted(Exception):
    """A build failed on its compute host; the message becomes the instance's fault."""


class NovaError(HttpError):
    def body(self) -> dict[str, dict[str, object]]:
        return {
            _KEYS.get(self.status, "computeFault"): {"code": self.status, "message": self.message}
        }


def bad_request(message: str) -> NovaError:
    return NovaError(message, status=400)


def forbidden(message: str) -> NovaError:
    return NovaError(message, status=403)


def not_found(message: str) -> NovaError:
    return NovaError(message, status=404)


def conflict(message: str) -> NovaError:
    return NovaError(message, status=409)


def instance_not_found(uuid: str) -> NovaError:
    return not_found(f"Instance {uuid} could not be found.")


def policy_forbidden(rule: str) -> NovaError:
    return forbidden(f"Policy doesn't allow {rule} to be performed.")


def invalid_state(uuid: str, attr: str, state: str | None, method: str) -> NovaError:
    """InstanceInvalidState as the API reports it (409)."""
    return conflict(f"Cannot '{method}' instance {uuid} while it is in {attr} {state}")


def quota_exceeded(
    overs: Sequence[str],
    requested: Sequence[object],
    used: Sequence[int],
    allowed: Sequence[int],
) -> NovaError:
    """TooManyInstances (an OverQuota, answered with 403): every resource over its limit,
    sorted, in one message, each list joined with ", " in the same order --
    ``Quota exceeded for cores, instances: Requested 8, 8, but already used 3, 3 of 10, 10
    cores, instances`` (``compute/utils.py get_over_quota_detail``)."""
    names = ", ".join(overs)

    def joined(values: Sequence[object]) -> str:
        return ", ".join(str(v) for v in values)

    return forbidden(
        f"Quota exceeded for {names}: Requested {joined(requested)}, but already used "
        f"{joined(used)} of {joined(allowed)} {names}"
    )


def port_limit_exceeded(message: str = "Maximum number of ports exceeded") -> NovaError:
    """PortLimitExceeded, an OverQuota: nova-api answers 403 when the project's Neutron port
    quota cannot hold the ports of the servers asked for (``validate_networks``)."""
    return forbidden(message)


def unexpected(exc_class: str) -> NovaError:
    """What Nova's fault wrapper answers when an exception it did not expect escapes a
    handler (a Neutron it cannot reach, a Neutron error it does not map): 500, the class on
    the message's last line."""
    return NovaError(
        "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and "
        f"attach the Nova API log if possible.\n<class '{exc_class}'>",
        status=500,
    )


# ---- key pairs (nova/exception.py) -------------------------------------------------------------


def keypair_not_found(name: str, user_id: str) -> NovaError:
    return not_found(f"Keypair {name} not found for user {user_id}")


def invalid_keypair(reason: str) -> NovaError:
    """InvalidKeypair, answered with 400."""
    return bad_request(f"Keypair data is invalid: {reason}")


def keypair_exists(name: str) -> NovaError:
    """KeyPairExists, answered with 409."""
    return conflict(f"Key pair '{name}' already exists.")


def invalid_name(reason: str) -> NovaError:
    """InvalidName: a schema's name format check failed (400)."""
    return bad_request(f"An invalid 'name' value was provided. The name must be: {reason}")
