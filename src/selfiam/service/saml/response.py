"""A SAML response, verified: only what an IdP's signature covers is ever read.

The response is the base64 of a ``samlp:Response``. Either the response itself
carries an enveloped signature (a ``ds:Signature`` child of the root), or its
single ``saml:Assertion`` does. The signature is checked with signxml against
the provider's metadata certificates, and everything read afterwards comes from
the element signxml returns as signed — never from the document it was given, so
an unsigned assertion inserted beside a signed one, or a signed assertion moved
elsewhere (signature wrapping), is never the one read. Encrypted assertions are
not supported.

Checks of time use ``now`` and ``SKEW`` (clocks of IdP and selfiam differ):
Conditions NotBefore / NotOnOrAfter, SubjectConfirmationData NotOnOrAfter, and
the response must be redeemed within five minutes of its IssueInstant, as AWS
requires.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from selfiam.domain.errors import ExpiredTokenException, IDPRejectedClaim, InvalidIdentityToken
from selfiam.service.saml.metadata import _xs_datetime
from selfiam.service.saml.xmlsafe import DS, SAML, SAMLP, UnsafeXml, parse, parser, text_of

SKEW = timedelta(minutes=5)
#: AWS: "Token must be redeemed within 5 minutes of issuance".
REDEEM_WITHIN = timedelta(minutes=5)
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
NAMEID_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"

BAD_SIGNATURE = "Response signature invalid"
NOT_SAML = "Invalid SAML response."
EXPIRED = "Response has expired"
TOO_OLD = "Token must be redeemed within 5 minutes of issuance"
NOT_YET_VALID = "Response is not yet valid"  # selfiam's wording
IDP_REFUSED = "The identity provider did not authenticate the user."  # selfiam's wording

_RESPONSE = f"{{{SAMLP}}}Response"
_ASSERTION = f"{{{SAML}}}Assertion"


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """The facts of one signed assertion (every field from the signed element)."""

    assertion_id: str
    issuer: str
    issue_instant: datetime
    subject: str
    subject_format: str | None
    audiences: tuple[str, ...]
    recipients: tuple[str, ...]
    #: The last moment it could be redeemed (its earliest NotOnOrAfter or five minutes
    #: after issue, plus the skew): a replay must be refused until then.
    redeemable_until: datetime
    session_not_on_or_after: datetime | None
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def subject_type(self) -> str:
        """AWS's SubjectType: the NameID format without its standard prefix."""
        fmt = self.subject_format or f"{NAMEID_PREFIX}transient"
        return fmt.removeprefix(NAMEID_PREFIX)


def _decode(encoded: str) -> Any:
    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
        root = parse(raw)
    except (binascii.Error, ValueError, UnsafeXml):
        raise InvalidIdentityToken(NOT_SAML) from None
    if root.tag != _RESPONSE:
        raise InvalidIdentityToken(NOT_SAML)
    return root


def unverified_issuer(encoded: str) -> str:
    """The Issuer a response claims, unverified: only to choose whose certificates to
    verify it with (never trusted for anything else)."""
    root = _decode(encoded)
    issuer = text_of(root, "saml:Issuer") or text_of(root, "saml:Assertion/saml:Issuer")
    if not issuer:
        raise InvalidIdentityToken(NOT_SAML)
    return issuer


def _verify(element: Any, certificates: Sequence[x509.Certificate]) -> Any:
    """The element signxml verified as signed by one of ``certificates``: the enveloped
    signature must be a direct child of ``element`` and reference ``element`` itself."""
    config = SignatureConfiguration(location="./", expect_references=1)
    for cert in certificates:
        try:
            result = XMLVerifier().verify(
                element, x509_cert=cert, expect_config=config, parser=parser()
            )
        except Exception:  # noqa: BLE001
            # signxml raises its own errors, but hostile input also reaches lxml's schema
            # validation (DocumentInvalid) and enum lookups (ValueError): whatever fails
            # to verify is refused, never a 500.
            continue
        if not isinstance(result, VerifyResult):
            break
        signed = result.signed_xml
        if signed is None or signed.tag != element.tag or signed.get("ID") != element.get("ID"):
            break
        return signed
    raise InvalidIdentityToken(BAD_SIGNATURE)


def _signed_assertion(root: Any, certificates: Sequence[x509.Certificate]) -> Any:
    if root.find(f"{{{SAML}}}EncryptedAssertion") is not None:
        raise InvalidIdentityToken("Encrypted assertions are not supported.")
    if root.find(f"{{{DS}}}Signature") is not None:
        signed_response = _verify(root, certificates)
        assertions = signed_response.findall(_ASSERTION)
    else:
        found = root.findall(_ASSERTION)
        if len(found) != 1 or found[0].find(f"{{{DS}}}Signature") is None:
            raise InvalidIdentityToken(BAD_SIGNATURE)
        assertions = [_verify(found[0], certificates)]
    if len(assertions) != 1:
        raise InvalidIdentityToken(NOT_SAML)
    return assertions[0]


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _xs_datetime(value)
    except ValueError:
        raise InvalidIdentityToken(NOT_SAML) from None


def _attributes(assertion: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"):
        name = attribute.get("Name")
        if not name:
            continue
        values = [
            (value.text or "").strip() for value in attribute.iterfind(f"{{{SAML}}}AttributeValue")
        ]
        out.setdefault(str(name), []).extend(values)
    return out


def verify_response(
    encoded: str, certificates: Sequence[x509.Certificate], now: datetime
) -> VerifiedAssertion:
    """Verify the base64 ``samlp:Response`` and read its signed assertion.

    Raises InvalidIdentityToken (unparsable, unsigned, badly signed, not yet valid),
    ExpiredTokenException (past its NotOnOrAfter, or issued too long ago) or
    IDPRejectedClaim (the IdP's status is not Success).
    """
    root = _decode(encoded)
    status = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if status is None or status.get("Value") != SUCCESS:
        raise IDPRejectedClaim(IDP_REFUSED)
    assertion = _signed_assertion(root, certificates)
    assertion_id = assertion.get("ID")
    issuer = text_of(assertion, "saml:Issuer")
    issued = _time(assertion.get("IssueInstant"))
    name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    if not assertion_id or not issuer or issued is None or name_id is None:
        raise InvalidIdentityToken(NOT_SAML)
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    not_before = _time(conditions.get("NotBefore")) if conditions is not None else None
    ends = [_time(conditions.get("NotOnOrAfter")) if conditions is not None else None]
    recipients: list[str] = []
    for data in assertion.iterfind(
        f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation/{{{SAML}}}SubjectConfirmationData"
    ):
        ends.append(_time(data.get("NotOnOrAfter")))
        if data.get("Recipient"):
            recipients.append(str(data.get("Recipient")))
    if not_before is not None and now + SKEW < not_before:
        raise InvalidIdentityToken(NOT_YET_VALID)
    known_ends = [end for end in ends if end is not None]
    expires_at = min(known_ends) if known_ends else issued + REDEEM_WITHIN
    if now - SKEW >= expires_at:
        raise ExpiredTokenException(EXPIRED)
    if now - SKEW > issued + REDEEM_WITHIN:
        raise ExpiredTokenException(TOO_OLD)
    audiences = tuple(
        (a.text or "").strip()
        for a in assertion.iterfind(
            f"{{{SAML}}}Conditions/{{{SAML}}}AudienceRestriction/{{{SAML}}}Audience"
        )
    )
    session_end = None
    for statement in assertion.iterfind(f"{{{SAML}}}AuthnStatement"):
        end = _time(statement.get("SessionNotOnOrAfter"))
        if end is not None and (session_end is None or end < session_end):
            session_end = end
    return VerifiedAssertion(
        assertion_id=str(assertion_id),
        issuer=issuer,
        issue_instant=issued,
        subject=(name_id.text or "").strip(),
        subject_format=name_id.get("Format"),
        audiences=audiences,
        recipients=tuple(recipients),
        redeemable_until=min(expires_at, issued + REDEEM_WITHIN) + SKEW,
        session_not_on_or_after=session_end,
        attributes=_attributes(assertion),
    )
