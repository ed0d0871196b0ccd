"""Placement's errors: the codes, the exceptions of its rules, and its error bodies.

Placement answers errors as the API working group's guideline says::

    {"errors": [{"status": 409, "title": "Conflict",
                 "detail": "There was a conflict when trying to complete your request.\\n\\n ...",
                 "code": "placement.concurrent_update", "request_id": "req-..."}]}

The ``detail`` is what WebOb renders for the exception (its explanation, then the message)
with the HTML tags stripped -- hence the blank line and the stray spaces, which the sim
reproduces. ``code`` is there from microversion 1.23 on. Errors raised before the
microversion is known (a 406 for an unknown version) add ``min_version``/``max_version``.

:class:`PlacementError` is the HTTP answer; the domain modules raise the
``placement.exception`` equivalents below (:class:`NotFound`, :class:`InventoryInUse` ...)
and each API handler turns them into the status and text Zed's handler uses.
"""

from __future__ import annotations

import re

from labkit.sim.core.http import HttpError
from labkit.sim.core.status import reason_phrase

# placement/errors.py: the codes clients can match on (never change the strings).
DEFAULT = "placement.undefined_code"
INVENTORY_INUSE = "placement.inventory.inuse"
CONCURRENT_UPDATE = "placement.concurrent_update"
DUPLICATE_NAME = "placement.duplicate_name"
PROVIDER_IN_USE = "placement.resource_provider.inuse"
PROVIDER_CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"
RESOURCE_PROVIDER_NOT_FOUND = "placement.resource_provider.not_found"
ILLEGAL_DUPLICATE_QUERYPARAM = "placement.query.duplicate_key"
QUERYPARAM_BAD_VALUE = "placement.query.bad_value"
QUERYPARAM_MISSING_VALUE = "placement.query.missing_value"

# WebOb's explanations (webob.exc), which open every detail.
_EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document you "
    "requested. Either you supplied the wrong credentials (e.g., bad password), or your "
    "browser does not understand how to supply the credentials required.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    409: "There was a conflict when trying to complete your request.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    503: "The server is currently unavailable. Please try again at a later time.",
}


class PlacementError(HttpError):
    """A ``webob.exc.HTTP*`` with Placement's JSON formatter.

    ``in_handler`` says whether it was answered inside a handler (which the microversion
    middleware sees as a normal response: ``Vary`` is added) or raised past it (router,
    policy, objects' NotFound: only ``OpenStack-API-Version`` is added).
    """

    def __init__(
        self,
        status: int,
        detail: str = "",
        code: str = DEFAULT,
        *,
        in_handler: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or reason_phrase(status), status=status, headers=headers)
        self.detail = detail
        self.code = code
        self.in_handler = in_handler


def bad_request(detail: str, code: str = DEFAULT) -> PlacementError:
    return PlacementError(400, detail, code)


def not_found(detail: str = "", code: str = DEFAULT, in_handler: bool = True) -> PlacementError:
    return PlacementError(404, detail, code, in_handler=in_handler)


def conflict(detail: str, code: str = DEFAULT) -> PlacementError:
    return PlacementError(409, detail, code)


def strip_tags(value: str) -> str:
    """webob.exc.strip_tags, which Placement's formatter applies to the rendered body."""
    value = value.replace("\n", " ").replace("\r", "")
    value = re.sub(r"<br.*?>", "\n", value, flags=re.I | re.S)
    value = re.sub(r"<!--|-->", "", value)
    return re.sub(r"<.*?>", "", value, flags=re.S)


def detail_text(
    status: int, detail: str, *, method: str = "", accept: str | None = None, media: str = ""
) -> str:
    """The ``detail`` of an error body: WebOb's template for that status, tags stripped."""
    if status == 405:
        body = f"The method {method} is not allowed for this resource. <br /><br />\n{detail}"
    elif status == 406:
        shown = "${HTTP_ACCEPT}" if accept is None else accept
        body = (
            "The resource could not be generated that was acceptable to your browser\n"
            f"(content of type {shown}. <br /><br />\n{detail}"
        )
    elif status == 415:
        body = (
            f"The request media type {media} is not supported by this server.\n<br /><br />\n"
            f"{detail}"
        )
    else:
        body = f"{_EXPLANATIONS.get(status, '')}<br /><br />\n{detail}\n\n"
    return strip_tags(body)


# ---- placement.exception: raised by the rules, translated by the handlers ------------------


class PlacementException(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PlacementException):
    pass


class ProviderNotFound(NotFound):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"No resource provider with uuid {uuid} found")


class ResourceClassNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No such resource class {name}.")


class TraitNotFound(NotFound):
    def __init__(self, names: str) -> None:
        super().__init__(f"No such trait(s): {names}.")


class InvalidInventory(PlacementException):
    """Allocation against inventory that is missing (or a subclass: over capacity ...)."""

    def __init__(self, resource_class: str, provider: str, message: str = "") -> None:
        super().__init__(
            message
            or f"Inventory for '{resource_class}' on resource provider '{provider}' invalid."
        )


class CapacityExceeded(InvalidInventory):
    def __init__(self, resource_class: str, provider: str) -> None:
        super().__init__(
            resource_class,
            provider,
            f"Unable to create allocation for '{resource_class}' on resource provider "
            f"'{provider}'. The requested amount would exceed the capacity.",
        )


class ConstraintsViolated(InvalidInventory):
    def __init__(self, resource_class: str, provider: str) -> None:
        super().__init__(
            resource_class,
            provider,
            f"Unable to create allocation for '{resource_class}' on resource provider "
            f"'{provider}'. The requested amount would violate inventory constraints.",
        )


class InvalidCapacity(PlacementException):
    def __init__(self, resource_class: str, provider: str, reserved_can_be_total: bool) -> None:
        what = "greater than" if reserved_can_be_total else "greater than or equal to"
        super().__init__(
            f"Invalid inventory for '{resource_class}' on resource provider '{provider}'. "
            f"The reserved value is {what} total."
        )


class InventoryInUse(PlacementException):
    def __init__(self, resource_classes: str, provider: str) -> None:
        super().__init__(
            f"Inventory for '{resource_classes}' on resource provider '{provider}' in use."
        )


class ProviderInUse(PlacementException):
    def __init__(self) -> None:
        super().__init__("Resource provider has allocations.")


class CannotDeleteParent(PlacementException):
    def __init__(self) -> None:
        super().__init__(
            "Cannot delete resource provider that is a parent of another. Delete child "
            "providers first."
        )


class ConcurrentUpdate(PlacementException):
    def __init__(self) -> None:
        super().__init__(
            "Another thread concurrently updated the resource provider data. Please retry "
            "your update"
        )


class Duplicate(PlacementException):
    """A unique name or uuid is taken (oslo.db's DBDuplicateEntry)."""

    def __init__(self, column: str, value: str) -> None:
        super().__init__(f"{column}: {value}")
        self.column = column
        self.value = value


class ActionError(PlacementException):
    """placement.exception.ObjectActionError."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"Object action {action} failed because: {reason}")


class ClassInUse(PlacementException):
    def __init__(self, name: str) -> None:
        super().__init__(f"Cannot delete resource class {name}. Class is in use in inventory.")


class TraitInUse(PlacementException):
    def __init__(self, name: str) -> None:
        super().__init__(f"The trait {name} is in use by a resource provider.")
