"""One TLS context for the process's outgoing clients.

Each new httpx client otherwise builds its own and reads the CA bundle again (tens of
milliseconds of CPU); services() opens two clients every time it starts, and the
tests start it for nearly every app they build. A context is safe to share.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CA bundle, or SSL_CERT_FILE/SSL_CERT_DIR),
    built on first use."""
    return httpx.create_ssl_context()
