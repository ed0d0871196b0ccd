"""Keystone's errors, with the messages Zed Keystone sends (``keystone/exception.py``).

Keystone answers ``{"error": {"code": 404, "message": "...", "title": "Not Found"}}``.
Security errors (401, 403) never carry details outside ``insecure_debug`` mode, which is why
every failed login says only "The request you have made requires authentication."
"""

from __future__ import annotations

from labkit.sim.core.http import HttpError
from labkit.sim.core.status import reason_phrase

_CLIENT_IN_ERROR = (
    " The server could not comply with the request since it is either malformed or otherwise "
    "incorrect. The client is assumed to be in error."
)


class KeystoneError(HttpError):
    def body(self) -> dict[str, object]:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "title": self.title or reason_phrase(self.status),
            }
        }


class ValidationError(KeystoneError):
    status = 400

    @classmethod
    def expecting(cls, attribute: str, target: str) -> ValidationError:
        return cls(f"Expecting to find {attribute} in {target}.{_CLIENT_IN_ERROR}")


class SchemaValidationError(ValidationError):
    """A request body that does not match the API's JSON schema (message = the detail)."""


def bad_json() -> ValidationError:
    return ValidationError(f"Expecting to find valid JSON in request body.{_CLIENT_IN_ERROR}")


class Unauthorized(KeystoneError):
    status = 401

    def __init__(self) -> None:
        super().__init__("The request you have made requires authentication.")


class Forbidden(KeystoneError):
    status = 403

    def __init__(self, action: str | None = None) -> None:
        if action:
            super().__init__(f"You are not authorized to perform the requested action: {action}.")
        else:
            super().__init__("You are not authorized to perform the requested action.")


class ForbiddenNotSecurity(KeystoneError):
    """A 403 whose message is always shown (e.g. deleting an enabled domain)."""

    status = 403


class NotFound(KeystoneError):
    status = 404

    @classmethod
    def of(cls, kind: str, ident: str) -> NotFound:
        return cls(f"Could not find {kind}: {ident}.")


class Conflict(KeystoneError):
    status = 409

    @classmethod
    def storing(cls, kind: str, details: str) -> Conflict:
        return cls(f"Conflict occurred attempting to store {kind} - {details}.")


class MethodNotAllowed(KeystoneError):
    """A method the path does not serve. Werkzeug's router raises it before any Keystone
    code runs, and Flask-RESTful renders it: ``{"message": ...}`` (not Keystone's
    ``{"error": ...}``), with the path's methods in ``Allow`` -- Flask adds HEAD to a GET
    and OPTIONS to every route."""

    status = 405

    def __init__(self, allowed: list[str]) -> None:
        methods = set(allowed) | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())
        super().__init__(
            "The method is not allowed for the requested URL.",
            headers={"Allow": ", ".join(sorted(methods))},
        )

    def body(self) -> dict[str, object]:
        return {"message": self.message}


class ServiceUnavailable(KeystoneError):
    status = 503
