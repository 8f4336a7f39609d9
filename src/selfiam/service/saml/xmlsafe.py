"""Parsing untrusted XML: no DTD, no entities, no network, no huge trees.

Metadata documents and SAML responses come from outside. lxml's parser is
hardened here (the defusedxml rules): a document with a DOCTYPE is refused
outright, so no entity can expand and no external resource is ever fetched.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"md": MD, "saml": SAML, "samlp": SAMLP, "ds": DS}


class UnsafeXml(ValueError):
    """Not well-formed, or carries a DTD."""


def parser() -> Any:
    """A fresh hardened parser (lxml parsers are not shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes) -> Any:
    """The root element of ``data``; UnsafeXml if it is not plain, well-formed XML."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise UnsafeXml("DTDs are not accepted")
    try:
        tree = etree.fromstring(data, parser())
    except (etree.XMLSyntaxError, ValueError) as error:
        raise UnsafeXml(str(error)) from None
    if tree.getroottree().docinfo.doctype:
        raise UnsafeXml("DTDs are not accepted")
    return tree


def text_of(element: Any, path: str) -> str | None:
    """The stripped text of the first ``path`` under ``element`` (NS prefixes), or None."""
    found = element.find(path, NS)
    if found is None or found.text is None:
        return None
    return str(found.text).strip()
