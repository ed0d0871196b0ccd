"""Error bodies the way WebOb renders them: Glance's, and oslo's request-size limit.

Glance (and oslo.middleware's body size limit in front of Keystone) answer errors through
``webob.exc``: the body is HTML, JSON or plain text depending on the request's ``Accept``
header, with ``code`` a *string* such as ``"404 Not Found"``. The recordings in
``shared/reference/parity/glance-*`` show both shapes; this module reproduces them.
"""

from __future__ import annotations

import html
import json
import re

from labkit.sim.core.status import reason_phrase

_DEFAULT_BODY = "{explanation}<br /><br />\n{detail}\n{html_comment}\n"
# WebOb's 415 has its own template: it names the media type that was refused.
_UNSUPPORTED_MEDIA_BODY = (
    "The request media type {content_type} is not supported by this server.\n<br /><br />\n{detail}"
)

_HTML_PAGE = (
    "<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  <h1>{status}</h1>\n"
    "  {body}\n </body>\n</html>"
)

# WebOb's default explanations, used when the raiser gives none.
EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document you "
    "requested. Either you supplied the wrong credentials (e.g., bad password), or your "
    "browser does not understand how to supply the credentials required.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",  # WebOb builds a longer text; see api
    409: "There was a conflict when trying to complete your request.",
    410: "This resource is no longer available.  No forwarding address is given.",
    413: "The body of your request was too large for this server.",
    415: "",
    416: "The Range requested is not available.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    503: "The server is currently unavailable. Please try again at a later time.",
}


def negotiate(accept: str | None) -> str:
    """Pick text/html, application/json or text/plain the way WebOb's acceptable_offers does."""
    offers = ["text/html", "application/json"]
    if not accept or not accept.strip():
        return "text/html"
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        for index, offer in enumerate(offers):
            kind = offer.split("/")[0]
            if media in (offer, f"{kind}/*", "*/*"):
                # Higher q wins; among equals the earlier offer (WebOb keeps offer order).
                specificity = 2 if media == offer else (1 if media.endswith("/*") else 0)
                key = (q, specificity * 10 - index, offer)
                if best is None or key > best:
                    best = key
    return best[2] if best else "text/plain"


def body(
    code: int,
    explanation: str | None = None,
    *,
    detail: str = "",
    accept: str | None = None,
    content_type: str = "",
) -> tuple[str, bytes]:
    """Render a WebOb error: returns ``(content type, body bytes)``."""
    status = f"{code} {reason_phrase(code)}"
    title = reason_phrase(code)
    explanation = EXPLANATIONS.get(code, "") if explanation is None else explanation
    fmt = negotiate(accept)

    def make(escape: bool) -> str:
        esc = html.escape if escape else (lambda s: s)
        if code == 415:
            return _UNSUPPORTED_MEDIA_BODY.format(
                content_type=esc(content_type), detail=esc(detail)
            )
        return _DEFAULT_BODY.format(
            explanation=esc(explanation), detail=esc(detail), html_comment=""
        )

    if fmt == "application/json":
        return "application/json", json.dumps(
            {"message": make(False), "code": status, "title": title}
        ).encode()
    if fmt == "text/html":
        return "text/html; charset=UTF-8", _HTML_PAGE.format(
            status=status, body=make(True)
        ).encode()
    plain = re.sub(r"<[^>]*>", "", make(False))
    return "text/plain; charset=UTF-8", f"{status}\n\n{plain}".encode()
