"""What AWS reads from a verified SAML assertion's attributes, and the trust policy's keys.

Attribute names are AWS's (``https://aws.amazon.com/SAML/Attributes/...``): Role
(``role-arn,provider-arn`` pairs, either order), RoleSessionName (required),
SessionDuration, SourceIdentity, ``PrincipalTag:KEY`` and TransitiveTagKeys. The
condition keys are AWS's ``saml:*`` keys, with NameQualifier computed by AWS's
formula: BASE64(SHA1(issuer + account id + "/" + provider name)).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfiam.domain.errors import InvalidIdentityToken
from selfiam.service.saml.response import VerifiedAssertion

AWS_ATTRIBUTES = "https://aws.amazon.com/SAML/Attributes/"
ROLE = AWS_ATTRIBUTES + "Role"
ROLE_SESSION_NAME = AWS_ATTRIBUTES + "RoleSessionName"
SESSION_DURATION = AWS_ATTRIBUTES + "SessionDuration"
SOURCE_IDENTITY = AWS_ATTRIBUTES + "SourceIdentity"
PRINCIPAL_TAG = AWS_ATTRIBUTES + "PrincipalTag:"
TRANSITIVE_TAG_KEYS = AWS_ATTRIBUTES + "TransitiveTagKeys"

_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")
_TAG_KEY = re.compile(r"[\w\s.:/=+\-@]{1,128}")
MAX_SESSION_TAGS = 50

#: The attributes AWS gives their own ``saml:`` condition keys (eduPerson, eduOrg, X.500).
_OID_KEYS = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "saml:edupersonaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.2": "saml:edupersonnickname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.3": "saml:edupersonorgdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.4": "saml:edupersonorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": "saml:edupersonprimaryaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "saml:edupersonprincipalname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "saml:edupersonentitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.8": "saml:edupersonprimaryorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "saml:edupersonscopedaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "saml:edupersontargetedid",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.11": "saml:edupersonassurance",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.2": "saml:eduorghomepageuri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.3": "saml:eduorgidentityauthnpolicyuri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.4": "saml:eduorglegalname",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.5": "saml:eduorgsuperioruri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.6": "saml:eduorgwhitepagesuri",
    "urn:oid:2.5.4.3": "saml:cn",
    "urn:oid:2.5.4.4": "saml:surname",
    "urn:oid:2.5.4.42": "saml:givenName",
    "urn:oid:2.5.4.41": "saml:name",
    "urn:oid:2.5.4.45": "saml:x500UniqueIdentifier",
    "urn:oid:0.9.2342.19200300.100.1.1": "saml:uid",
    "urn:oid:0.9.2342.19200300.100.1.3": "saml:mail",
    "urn:oid:1.2.840.113556.1.4.98": "saml:primaryGroupSID",
}


@dataclass(frozen=True, slots=True)
class Claims:
    session_name: str
    source_identity: str | None
    session_duration: int | None
    session_tags: dict[str, str]
    transitive_keys: list[str]
    role_pairs: tuple[tuple[str, str], ...]


def name_qualifier(issuer: str, account_id: str, provider_name: str) -> str:
    """AWS's NameQualifier (and ``saml:namequalifier``)."""
    digest = hashlib.sha1(f"{issuer}{account_id}/{provider_name}".encode()).digest()
    return base64.b64encode(digest).decode()


def role_pairs(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(role ARN, provider ARN) of each ``Role`` value, whichever order it was written in."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        first, second = parts
        if ":saml-provider/" in first and ":role/" in second:
            first, second = second, first
        pairs.append((first, second))
    return tuple(pairs)


def _one(assertion: VerifiedAssertion, name: str) -> str | None:
    values = assertion.attributes.get(name)
    return values[0] if values else None


def read_claims(assertion: VerifiedAssertion) -> Claims:
    """The AWS attributes of ``assertion``, validated (InvalidIdentityToken as AWS words it)."""
    session_name = _one(assertion, ROLE_SESSION_NAME)
    if session_name is None:
        raise InvalidIdentityToken("RoleSessionName is required in AuthnResponse")
    if not _NAME.fullmatch(session_name):
        raise InvalidIdentityToken(
            "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
        )
    source = _one(assertion, SOURCE_IDENTITY)
    if source is not None and (not _NAME.fullmatch(source) or source.startswith("aws:")):
        raise InvalidIdentityToken(
            'Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"'
        )
    duration_text = _one(assertion, SESSION_DURATION)
    duration = None
    if duration_text is not None:
        if not duration_text.isdigit() or not 900 <= int(duration_text) <= 43200:
            raise InvalidIdentityToken("SessionDuration must be between 900 and 43200 seconds")
        duration = int(duration_text)
    tags: dict[str, str] = {}
    for name, values in assertion.attributes.items():
        if not name.startswith(PRINCIPAL_TAG):
            continue
        key = name[len(PRINCIPAL_TAG) :]
        value = values[0] if values else ""
        if not _TAG_KEY.fullmatch(key) or len(value) > 256:
            raise InvalidIdentityToken(f"Invalid session tag: {key[:128]}")
        if key.lower() in {k.lower() for k in tags}:
            raise InvalidIdentityToken(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        tags[key] = value
    if len(tags) > MAX_SESSION_TAGS:
        raise InvalidIdentityToken(f"The number of session tags exceeds {MAX_SESSION_TAGS}.")
    transitive = list(assertion.attributes.get(TRANSITIVE_TAG_KEYS, ()))
    lowered = {k.lower() for k in tags}
    for key in transitive:
        if key.lower() not in lowered:
            raise InvalidIdentityToken(
                f"Transitive tag key {key[:128]} is not among the session tags of the request."
            )
    return Claims(
        session_name=session_name,
        source_identity=source,
        session_duration=duration,
        session_tags=tags,
        transitive_keys=transitive,
        role_pairs=role_pairs(assertion.attributes.get(ROLE, ())),
    )


def condition_keys(
    assertion: VerifiedAssertion, audience: str, account_id: str, provider_name: str
) -> dict[str, str | Sequence[str]]:
    """The ``saml:*`` keys a trust policy sees for ``assertion`` (``saml:doc`` is
    ``ACCOUNT/PROVIDER-NAME``)."""
    qualifier = name_qualifier(assertion.issuer, account_id, provider_name)
    keys: dict[str, str | Sequence[str]] = {
        "saml:aud": audience,
        "saml:iss": assertion.issuer,
        "saml:sub": assertion.subject,
        "saml:sub_type": assertion.subject_type,
        "saml:namequalifier": qualifier,
        "saml:doc": f"{account_id}/{provider_name}",
    }
    for attribute, key in _OID_KEYS.items():
        values = assertion.attributes.get(attribute)
        if values:
            keys[key] = values if len(values) > 1 else values[0]
    return keys
