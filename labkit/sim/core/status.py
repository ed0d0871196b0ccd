"""HTTP reason phrases, as the Python services behind OpenStack print them.

Pinned here rather than taken from ``http.HTTPStatus`` alone: newer Pythons renamed a few
(413 became "Content Too Large"), while the recorded Zed services still say the old words.
"""

from __future__ import annotations

from http import HTTPStatus

_PINNED = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def reason_phrase(code: int) -> str:
    if code in _PINNED:
        return _PINNED[code]
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"
