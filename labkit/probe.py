"""Status probes: ``httpx.get`` without a new SSL context on every call.

``httpx.get`` makes a client for each call, and each client builds an SSL context that
loads the whole CA bundle -- some 34 ms of CPU, whether the URL is https:// or not. The lab
polls its own http:// URLs in loops: the sim's health every 50 ms while it starts, a
service's URL in an install's wait step every 200 ms, Horizon's login page while it
starts. A sim start polled ~20 times, so the process waiting for a sim spent about as much
CPU as the sim spent starting (a test run starts a hundred sims).

:func:`get` is ``httpx.get`` with the default context built once per process: the same
certificates and environment (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) for an https:// URL,
and for an http:// one a request that costs ~2 ms of CPU."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _context() -> ssl.SSLContext:
    """The context ``httpx.get`` would build for this call, built for the first one only
    (an SSLContext may be shared between threads)."""
    return httpx.create_ssl_context()


def get(url: str, timeout: float) -> httpx.Response:
    """``httpx.get(url, timeout=timeout)``: the same answer or the same ``httpx.HTTPError``."""
    return httpx.get(url, timeout=timeout, verify=_context())
