"""Glance's errors, in two layers, as in Glance itself.

* :class:`GlanceHttpError` is a ``webob.exc`` answer: Glance renders it through WebOb, so the
  body is HTML, JSON or plain text by ``Accept`` and carries an *explanation* (WebOb's default
  text when the raiser gives none) and a *detail* (what a raiser passed positionally). Which
  of the two a message lands in is visible to clients, so every helper here says which.
* :class:`DomainError` and its subclasses are ``glance.common.exception``: raised by the
  rules (status machine, policy, quotas) and translated by each API handler into the HTTP
  error Zed's controller uses for that call -- the same domain error becomes a 403 with one
  message in ``upload`` and another in ``update``.
"""

from __future__ import annotations

from labkit.sim.core.http import HttpError


class GlanceHttpError(HttpError):
    """A ``webob.exc.HTTP*`` raised by Glance: rendered by :mod:`~labkit.sim.core.webob_style`."""

    def __init__(
        self,
        status: int,
        explanation: str | None = None,
        detail: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(explanation or detail or str(status), status=status, headers=headers)
        self.explanation = explanation
        self.detail = detail


class PlainServerError(HttpError):
    """What eventlet's WSGI server sends when an exception escapes the whole pipeline: a 500
    with an empty ``text/plain`` body (Glance runs eventlet with ``debug=False``)."""

    def __init__(self, log_line: str) -> None:
        super().__init__(log_line, status=500, headers={"Connection": "close"})
        self.log_line = log_line


def bad_request(explanation: str) -> GlanceHttpError:
    return GlanceHttpError(400, explanation)


def unauthorized() -> GlanceHttpError:
    return GlanceHttpError(401)


def forbidden(explanation: str | None = None, detail: str = "") -> GlanceHttpError:
    return GlanceHttpError(403, explanation, detail)


def not_found(explanation: str | None = None) -> GlanceHttpError:
    return GlanceHttpError(404, explanation)


def conflict(explanation: str | None = None, detail: str = "") -> GlanceHttpError:
    return GlanceHttpError(409, explanation, detail)


def gone(explanation: str) -> GlanceHttpError:
    return GlanceHttpError(410, explanation)


def too_large(explanation: str) -> GlanceHttpError:
    return GlanceHttpError(413, explanation)


def unsupported_media_type(headers: dict[str, str] | None = None) -> GlanceHttpError:
    """WebOb's 415 names the request's content type itself (no explanation passed)."""
    return GlanceHttpError(415, headers=headers)


def range_not_satisfiable(detail: str) -> GlanceHttpError:
    return GlanceHttpError(416, detail=detail)


def service_unavailable(detail: str) -> GlanceHttpError:
    return GlanceHttpError(503, detail=detail)


# ---- glance.common.exception ----------------------------------------------------------------


class DomainError(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    pass


class Duplicate(DomainError):
    pass


class Invalid(DomainError):
    pass


class InvalidImageStatusTransition(Invalid):
    def __init__(self, current: str, new: str) -> None:
        super().__init__(f"Image status transition from {current} to {new} is not allowed")


class ReadonlyProperty(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is read-only.")


class ReservedProperty(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is reserved.")


class LimitExceeded(DomainError):
    """Glance's ``LimitExceeded``: its text wraps the quota library's message."""

    def __init__(self, body: str) -> None:
        super().__init__(
            "The request returned a 413 Request Entity Too Large. This generally "
            "means that rate limiting or a quota threshold was breached.\n\n"
            f"The response body:\n{body}"
        )


class CountLimitExceeded(DomainError):
    """Image tag/property/member quotas (``image_tag_quota`` ...), LimitExceeded subclasses."""

    def __init__(self, what: str, attempted: int, maximum: int) -> None:
        super().__init__(
            f"The limit has been exceeded on the number of allowed {what}. "
            f"Attempted: {attempted}, Maximum: {maximum}"
        )


class ImageSizeLimitExceeded(DomainError):
    def __init__(self) -> None:
        super().__init__("The provided image is too large.")


class UploadInterrupted(DomainError):
    """The client went away (or sent less than its Content-Length) in mid-upload."""
