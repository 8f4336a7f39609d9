"""``selfiam server-certificate``: the account's TLS certificates, as the account's root.

The same operations as ``aws iam upload-server-certificate`` and friends, for an operator on
the server's machine. The private key is read from a file, sent to the service (which seals
it), and never printed; nothing here prints a certificate's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.cli.root import RootSession


@click.group("server-certificate")
def server_certificate() -> None:
    """Upload, list and delete server certificates (IAM's UploadServerCertificate...)."""


def _read(path: str | None) -> str | None:
    return Path(path).read_text(encoding="ascii") if path else None


@server_certificate.command("upload")
@click.argument("name")
@click.option(
    "--body",
    "body",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="The certificate, PEM.",
)
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Its unencrypted private key, PEM (stored sealed, never shown).",
)
@click.option(
    "--chain",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="The chain, PEM: the issuer first, then each one above it.",
)
@click.option("--path", default=None, help="IAM path, e.g. /cloudfront/.")
@database_options
def upload(
    name: str,
    body: str,
    key: str,
    chain: str | None,
    path: str | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Upload certificate NAME with its private key (and chain)."""
    session = RootSession.open(settings_from(data_dir, database_url))
    params: dict[str, Any] = {
        "ServerCertificateName": name,
        "CertificateBody": _read(body),
        "PrivateKey": _read(key),
    }
    if chain:
        params["CertificateChain"] = _read(chain)
    if path:
        params["Path"] = path
    try:
        meta = session.call("UploadServerCertificate", **params)["ServerCertificateMetadata"]
    finally:
        session.runtime.audit.flush()
    echo(
        f"uploaded {printable(meta['Arn'])} ({meta['ServerCertificateId']}), "
        f"expires {meta['Expiration']:%Y-%m-%d %H:%M} UTC"
    )


@server_certificate.command("list")
@click.option("--path-prefix", default=None, help="Only those whose path starts so.")
@database_options
def list_certificates(
    path_prefix: str | None, data_dir: str | None, database_url: str | None
) -> None:
    """List the account's server certificates: name, ARN, expiry."""
    session = RootSession.open(settings_from(data_dir, database_url))
    params: dict[str, Any] = {"MaxItems": 1000}
    if path_prefix:
        params["PathPrefix"] = path_prefix
    try:
        listed = session.call("ListServerCertificates", **params)
    finally:
        session.runtime.audit.flush()
    for meta in listed["ServerCertificateMetadataList"]:
        echo(
            f"{printable(meta['ServerCertificateName'])}  {printable(meta['Arn'])}  "
            f"expires {meta['Expiration']:%Y-%m-%d}"
        )


@server_certificate.command("delete")
@click.argument("name")
@database_options
def delete(name: str, data_dir: str | None, database_url: str | None) -> None:
    """Delete server certificate NAME (its sealed private key with it)."""
    session = RootSession.open(settings_from(data_dir, database_url))
    try:
        session.call("DeleteServerCertificate", ServerCertificateName=name)
    finally:
        session.runtime.audit.flush()
    echo(f"deleted server certificate {printable(name)}")
