"""Fetch one JSON document from an issuer over TLS: bounded in time and size, no redirects.

The trust store is the system's plus the file named by ``SSL_CERT_FILE`` when it is set
(OpenSSL alone would use that file *instead* of the system's), so an operator can
trust an internal issuer's CA without losing the public ones.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

#: Seconds to connect, and between two reads of the answer.
TIMEOUT = 5.0
#: Seconds a whole fetch may take (an issuer dripping its answer byte by byte is cut off).
TOTAL_TIMEOUT = 10.0
#: The most a discovery document or a key set may weigh (bytes).
MAX_DOCUMENT = 256 * 1024


class FetchError(Exception):
    """The issuer could not be reached, or did not answer with a JSON object over TLS."""


def trust_store() -> ssl.SSLContext:
    """A client context trusting the system's CAs and those of ``SSL_CERT_FILE``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    paths = ssl.get_default_verify_paths()
    system_file = paths.openssl_cafile
    system_dir = paths.openssl_capath
    if system_file and os.path.isfile(system_file):
        context.load_verify_locations(cafile=system_file)
    if system_dir and os.path.isdir(system_dir):
        context.load_verify_locations(capath=system_dir)
    extra = os.environ.get("SSL_CERT_FILE")
    if extra and os.path.isfile(extra):
        context.load_verify_locations(cafile=extra)
    return context


def fetch_json(url: str, context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """GET ``url`` (https only) and parse its JSON object; FetchError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise FetchError(f"not an https URL: {url!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPSConnection(
        parts.hostname, parts.port, timeout=TIMEOUT, context=context or trust_store()
    )
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        answer = conn.getresponse()
        if answer.status != 200:
            raise FetchError(f"{url} answered {answer.status}")
        body = _read_bounded(answer, time.monotonic() + TOTAL_TIMEOUT)
    except (OSError, http.client.HTTPException) as err:
        raise FetchError(f"{url}: {err}") from None
    finally:
        conn.close()
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{url}: not a JSON object")
    return document


def _read_bounded(answer: http.client.HTTPResponse, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = answer.read1(16 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_DOCUMENT:
            raise FetchError(f"the document is larger than {MAX_DOCUMENT} bytes")
        if time.monotonic() > deadline:
            raise FetchError("the issuer took too long to answer")
        chunks.append(chunk)
