"""The STS operations AWS serves without a signature: their token is the credential.

AssumeRoleWithWebIdentity carries an OIDC token and AssumeRoleWithSAML a signed SAML
response; boto3 sends both unsigned (the model's ``smithy.api#noAuth``). The endpoint
runs them for an anonymous caller of the account, and the operation verifies the token.
A signature sent along is ignored, as AWS ignores it: it proves nothing the token does
not.
"""

from __future__ import annotations

UNSIGNED_STS_OPERATIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})


def is_unsigned(action: str) -> bool:
    """Whether a request for ``action`` is served without SigV4 (and in STS)."""
    return action in UNSIGNED_STS_OPERATIONS
