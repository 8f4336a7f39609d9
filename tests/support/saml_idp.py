"""A real SAML 2.0 identity provider for the tests, built with pysaml2 (signing with
xmlsec1, as deployed IdPs do), issuing IdP-initiated responses to AWS's service provider
(``urn:amazon:webservices``, ACS ``https://signin.aws.amazon.com/saml``) or to another.

Nothing here verifies anything: selfiam does, with signxml.
"""

from __future__ import annotations

import base64
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from saml2 import BINDING_HTTP_POST
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
    from saml2.server import Server

AWS_SP = "urn:amazon:webservices"
AWS_ACS = "https://signin.aws.amazon.com/saml"
OTHER_SP = "https://other.example.test/sp"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST256 = "http://www.w3.org/2001/04/xmlenc#sha256"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"


def _sp_metadata(entity_id: str, acs: str) -> str:
    return (
        '<?xml version="1.0"?><md:EntityDescriptor '
        f'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
        'WantAssertionsSigned="true"><md:AssertionConsumerService index="1" isDefault="true" '
        f'Binding="{BINDING_HTTP_POST}" Location="{acs}"/></md:SPSSODescriptor>'
        "</md:EntityDescriptor>"
    )


def _key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start.replace(year=2099))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class SamlIdp:
    """One IdP: its own key pair, its metadata, and signed responses on demand."""

    def __init__(
        self,
        directory: Path,
        entity_id: str = "https://idp.example.test/saml",
        name: str = "idp",
        lifetime_minutes: int = 5,
        other_acs: str = OTHER_SP,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key_file, cert_file = _key_pair(directory, name)
        self.entity_id = entity_id
        config = IdPConfig()
        config.load(
            {
                "entityid": entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{entity_id}/sso", BINDING_HTTP_POST)]
                        },
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": lifetime_minutes},
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                            }
                        },
                    }
                },
                "key_file": str(key_file),
                "cert_file": str(cert_file),
                "xmlsec_binary": XMLSEC1,
                "metadata": {
                    "inline": [_sp_metadata(AWS_SP, AWS_ACS), _sp_metadata(OTHER_SP, other_acs)]
                },
            }
        )
        self.config = config
        self.server = Server(config=config)

    @property
    def metadata(self) -> str:
        return str(entity_descriptor(self.config))

    def response_xml(
        self,
        attributes: dict[str, list[str]],
        *,
        subject: str = "alice@example.test",
        sp: str = AWS_SP,
        destination: str = AWS_ACS,
        sign_response: bool = True,
        sign_assertion: bool = True,
    ) -> str:
        """A samlp:Response for ``attributes`` (full attribute names), as XML text."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = self.server.create_authn_response(
                attributes,
                in_response_to=None,
                destination=destination,
                sp_entity_id=sp,
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject),
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                sign_alg=SHA256,
                digest_alg=DIGEST256,
                userid=subject,
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            )
        return str(response)

    def response(self, attributes: dict[str, list[str]], **options: Any) -> str:
        """The base64 SAMLResponse a browser would post (AssumeRoleWithSAML's SAMLAssertion)."""
        return encode(self.response_xml(attributes, **options))


def encode(xml: str | bytes) -> str:
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()


def aws_attributes(
    role_arn: str, provider_arn: str, session_name: str = "alice", **more: list[str]
) -> dict[str, list[str]]:
    """AWS's Role and RoleSessionName attributes, plus ``more`` (names after ATTR)."""
    out = {ATTR + "Role": [f"{role_arn},{provider_arn}"], ATTR + "RoleSessionName": [session_name]}
    out.update({ATTR + name.replace("__", ":"): values for name, values in more.items()})
    return out


def in_minutes(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)
