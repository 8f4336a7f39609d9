"""The requests AWS accepts without a signature: STS's federation operations, whose
credential is the token or assertion they carry. Every other request must be signed."""

from __future__ import annotations

from selfiam.auth.sigv4 import HttpRequest

#: STS operations that may come unsigned (their parameters carry the credential).
UNSIGNED_STS_OPERATIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})


def is_unsigned(http: HttpRequest, action: str) -> bool:
    """True for an unsigned request of an operation AWS serves unsigned (always STS):
    no Authorization header and no presigned query. A signed request of these
    operations is authenticated as any other."""
    if action not in UNSIGNED_STS_OPERATIONS:
        return False
    header = http.header("Authorization")
    if header is not None and header.strip():
        return False
    return "X-Amz-Signature" not in http.query_string and "X-Amz-Credential" not in (
        http.query_string
    )
