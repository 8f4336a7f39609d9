"""SSH public keys (for CodeCommit-style git over SSH): at most five per user.

Every operation is authorized against the owning user's ARN. UploadSSHPublicKey,
GetSSHPublicKey, UpdateSSHPublicKey and DeleteSSHPublicKey require UserName
(botocore's model); ListSSHPublicKeys defaults to the caller. A key id that
exists but belongs to another user than the one named is not found, in AWS's
words. The same key (by fingerprint, whatever its encoding) is refused twice
for one user by the (user_id, fingerprint) constraint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from selfiam.domain.errors import (
    AwsError,
    DuplicateSSHPublicKey,
    NoSuchEntity,
    UnrecognizedPublicKeyEncoding,
)
from selfiam.domain.identifiers import new_ssh_public_key_id
from selfiam.domain.ssh_keys import ENCODINGS, parse_ssh_public_key
from selfiam.service.context import OperationContext
from selfiam.service.credential_status import settable_status
from selfiam.service.lookup import target_user_name
from selfiam.service.operations.users import (
    authorize_user,
    lock_user_within_quota,
    users_credential,
)
from selfiam.service.pagination import page_after
from selfiam.service.registry import operation
from selfiam.store import tables as t

SSH_PUBLIC_KEYS_PER_USER = 5


def no_such_key(key_id: str) -> AwsError:
    return NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")


def _metadata(row: Row[Any], user_name: str) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "SSHPublicKeyId": row.ssh_public_key_id,
        "Status": row.status,
        "UploadDate": row.uploaded_at,
    }


def _full(row: Row[Any], user_name: str, body: str) -> dict[str, Any]:
    return {
        **_metadata(row, user_name),
        "Fingerprint": row.fingerprint,
        "SSHPublicKeyBody": body,
    }


@operation("UploadSSHPublicKey")
def upload_ssh_public_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Upload a key; the user's row lock makes the five-key limit hold under concurrency."""
    name = target_user_name(ctx, params)
    user = authorize_user(ctx, name)
    body = str(params["SSHPublicKeyBody"])
    parsed = parse_ssh_public_key(body)
    sk = t.ssh_public_keys
    lock_user_within_quota(
        ctx, user, name, sk.c.user_id, "SSHPublicKeysPerUser", SSH_PUBLIC_KEYS_PER_USER
    )
    key_id = new_ssh_public_key_id()
    try:
        ctx.conn.execute(
            sk.insert().values(
                ssh_public_key_id=key_id,
                user_id=user.user_id,
                body=body,
                fingerprint=parsed.fingerprint,
                status="Active",
                uploaded_at=ctx.info.now,
            )
        )
    except IntegrityError:
        raise DuplicateSSHPublicKey(
            f"The SSH public key with fingerprint {parsed.fingerprint} is already "
            f"associated with user {user.name}."
        ) from None
    ctx.changed_credentials(user_id=user.user_id)
    row = ctx.conn.execute(select(sk).where(sk.c.ssh_public_key_id == key_id)).one()
    return {"SSHPublicKey": _full(row, user.name, body)}


def _users_key(ctx: OperationContext, params: Mapping[str, Any]) -> tuple[Row[Any], str]:
    """The user's own SSH key named in the request: (row, user name)."""
    sk = t.ssh_public_keys
    row, user = users_credential(ctx, params, sk.c.ssh_public_key_id, "SSHPublicKeyId", no_such_key)
    return row, str(user.name)


@operation("GetSSHPublicKey", writes=False)
def get_ssh_public_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """The key in the asked Encoding: SSH (an OpenSSH line) or PEM (SubjectPublicKeyInfo)."""
    encoding = str(params["Encoding"])
    row, user_name = _users_key(ctx, params)
    if encoding not in ENCODINGS:
        raise UnrecognizedPublicKeyEncoding(
            f"The encoding {encoding} is not recognized; use SSH or PEM."
        )
    body = parse_ssh_public_key(row.body).encode(encoding)
    return {"SSHPublicKey": _full(row, user_name, body)}


@operation("ListSSHPublicKeys", writes=False)
def list_ssh_public_keys(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, target_user_name(ctx, params))
    sk = t.ssh_public_keys
    query = select(sk).where(sk.c.user_id == user.user_id)
    page, more = page_after(ctx.conn, query, sk.c.ssh_public_key_id, params)
    return {"SSHPublicKeys": [_metadata(r, user.name) for r in page], **more}


@operation("UpdateSSHPublicKey", light=True)
def update_ssh_public_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    status = settable_status(str(params["Status"]))
    row, _ = _users_key(ctx, params)
    sk = t.ssh_public_keys
    ctx.conn.execute(
        sk.update().where(sk.c.ssh_public_key_id == row.ssh_public_key_id).values(status=status)
    )
    ctx.changed_credentials(user_id=row.user_id)
    return {}


@operation("DeleteSSHPublicKey", light=True)
def delete_ssh_public_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, _ = _users_key(ctx, params)
    sk = t.ssh_public_keys
    ctx.conn.execute(sk.delete().where(sk.c.ssh_public_key_id == row.ssh_public_key_id))
    ctx.changed_credentials(user_id=row.user_id)
    return {}
