"""An IdP's SAML metadata document: its entity id, signing certificates and validity.

CreateSAMLProvider and UpdateSAMLProvider accept a document only if it is
well-formed XML whose root is an ``md:EntityDescriptor`` with an
``md:IDPSSODescriptor`` holding at least one X.509 certificate usable for
signing (a ``KeyDescriptor`` with ``use="signing"`` or no ``use``).
AssumeRoleWithSAML trusts exactly those certificates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from selfiam.domain.errors import InvalidInput
from selfiam.service.bounded import BoundedCache
from selfiam.service.saml.xmlsafe import MD, UnsafeXml, parse

#: AWS's answer to a document it cannot use ("Could not parse metadata.").
UNPARSABLE = "Could not parse metadata."


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    entity_id: str
    certificates: tuple[x509.Certificate, ...]
    valid_until: datetime | None


#: Parsed documents by their SHA-256. Content-addressed, so always right whatever another
#: process changed; its keys are the documents admins stored (at most 100 providers an
#: account), so unsigned requests cannot grow it: bounded all the same.
_PARSED: BoundedCache[str, IdpMetadata] = BoundedCache(256, 3600.0)


def _xs_datetime(text: str) -> datetime:
    """An xs:dateTime as SAML writes it (``2026-12-01T10:00:00Z``, fractions allowed)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_metadata(document: str) -> IdpMetadata:
    """The IdP described by ``document``; InvalidInput (AWS's message) otherwise."""
    try:
        root = parse(document.encode("utf-8"))
    except UnsafeXml:
        raise InvalidInput(UNPARSABLE) from None
    if root.tag != f"{{{MD}}}EntityDescriptor" or not root.get("entityID"):
        raise InvalidInput(UNPARSABLE)
    idp = root.find(f"{{{MD}}}IDPSSODescriptor")
    if idp is None:
        raise InvalidInput(UNPARSABLE)
    certificates: list[x509.Certificate] = []
    for key in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if key.get("use") not in (None, "signing"):
            continue
        for cert in key.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate"):
            try:
                der = base64.b64decode("".join((cert.text or "").split()), validate=True)
                certificates.append(x509.load_der_x509_certificate(der))
            except (binascii.Error, ValueError):
                raise InvalidInput(UNPARSABLE) from None
    if not certificates:
        raise InvalidInput(UNPARSABLE)
    valid_until = None
    raw = root.get("validUntil")
    if raw:
        try:
            valid_until = _xs_datetime(raw)
        except ValueError:
            raise InvalidInput(UNPARSABLE) from None
    return IdpMetadata(str(root.get("entityID")), tuple(certificates), valid_until)


def document_digest(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def cached_metadata(digest: str, load_document: Callable[[], str]) -> IdpMetadata:
    """The parsed metadata whose document has SHA-256 ``digest``; ``load_document`` reads
    it only when this process has not parsed it yet (a request need not re-read it)."""
    found = _PARSED.get(digest)
    if found is None:
        found = parse_metadata(load_document())
        _PARSED.put(digest, found)
    return found
