"""Generators for the identifiers AWS hands out, in AWS's own formats.

Clients (boto3, terraform, scripts written against real AWS) sometimes check
the shape of an identifier — its prefix tells what kind of entity it names —
so selfiam mints identifiers that look exactly like AWS's:

* unique ids: a four-letter prefix + 17 characters of ``[A-Z2-7]`` (21 in all),
  e.g. ``AIDAJQABLZS4A3QDU576Q`` for a user;
* access key ids: ``AKIA`` (long-term) or ``ASIA`` (temporary) + 16 characters
  (20 in all), e.g. ``AKIAIOSFODNN7EXAMPLE``;
* SSH public key ids: ``APKA`` + 16 characters (20 in all, botocore's minimum);
* signing certificate ids: 32 characters of ``[A-Z2-7]`` with no prefix, as
  AWS's are (botocore requires at least 24; ``ASCA`` is for *server*
  certificates, see :func:`new_server_certificate_id`);
* service-specific credential ids: ``ACCA`` + 17 characters (21 in all);
* secret access keys: 40 characters of ``[A-Za-z0-9/+]``; service-specific passwords:
  the standard base64 of 32 random bytes (44 characters ending in ``=``, as AWS's
  CodeCommit and Keyspaces passwords look).

Everything is drawn from :mod:`secrets`: identifiers double as unguessable
handles, and secrets are secrets.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from typing import Any

#: The alphabet of AWS unique ids and modern access key ids (RFC 4648 base32).
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: The alphabet of secret access keys (standard base64 without padding).
SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

USER_PREFIX = "AIDA"
GROUP_PREFIX = "AGPA"
POLICY_PREFIX = "ANPA"
ROLE_PREFIX = "AROA"
INSTANCE_PROFILE_PREFIX = "AIPA"
SERVER_CERTIFICATE_PREFIX = "ASCA"
SSH_KEY_PREFIX = "APKA"
SERVICE_CREDENTIAL_PREFIX = "ACCA"
ACCESS_KEY_PREFIX = "AKIA"
TEMPORARY_ACCESS_KEY_PREFIX = "ASIA"

UNIQUE_ID_LENGTH = 21
ACCESS_KEY_ID_LENGTH = 20
SSH_KEY_ID_LENGTH = 20
SIGNING_CERTIFICATE_ID_LENGTH = 32
SECRET_ACCESS_KEY_LENGTH = 40


def _random_chars(alphabet: str, n: int) -> str:
    """``n`` characters drawn uniformly from ``alphabet`` by the OS's CSPRNG. For an
    alphabet whose size divides 256 (both of selfiam's: 32 and 64) a random byte modulo
    its size is uniform, and one ``token_bytes`` call costs far less than a
    ``secrets.choice`` per character (a third of CreateUser's id work)."""
    size = len(alphabet)
    if 256 % size:
        return "".join(secrets.choice(alphabet) for _ in range(n))
    return "".join([alphabet[b % size] for b in secrets.token_bytes(n)])


def _prefixed(prefix: str, total_length: int) -> str:
    return prefix + _random_chars(ID_ALPHABET, total_length - len(prefix))


def new_user_id() -> str:
    """A user's unique id, ``AIDA`` + 17 characters."""
    return _prefixed(USER_PREFIX, UNIQUE_ID_LENGTH)


def new_group_id() -> str:
    """A group's unique id, ``AGPA`` + 17 characters."""
    return _prefixed(GROUP_PREFIX, UNIQUE_ID_LENGTH)


def new_policy_id() -> str:
    """A managed policy's unique id, ``ANPA`` + 17 characters."""
    return _prefixed(POLICY_PREFIX, UNIQUE_ID_LENGTH)


def new_role_id() -> str:
    """A role's unique id, ``AROA`` + 17 characters."""
    return _prefixed(ROLE_PREFIX, UNIQUE_ID_LENGTH)


def new_instance_profile_id() -> str:
    """An instance profile's unique id, ``AIPA`` + 17 characters."""
    return _prefixed(INSTANCE_PROFILE_PREFIX, UNIQUE_ID_LENGTH)


def new_server_certificate_id() -> str:
    """A server certificate's unique id, ``ASCA`` + 17 characters."""
    return _prefixed(SERVER_CERTIFICATE_PREFIX, UNIQUE_ID_LENGTH)


def new_signing_certificate_id() -> str:
    """A user signing certificate's id: 32 characters, no prefix (as AWS's)."""
    return _random_chars(ID_ALPHABET, SIGNING_CERTIFICATE_ID_LENGTH)


def new_ssh_public_key_id() -> str:
    """An SSH public key's id, ``APKA`` + 16 characters."""
    return _prefixed(SSH_KEY_PREFIX, SSH_KEY_ID_LENGTH)


def new_service_specific_credential_id() -> str:
    """A service-specific credential's id, ``ACCA`` + 17 characters."""
    return _prefixed(SERVICE_CREDENTIAL_PREFIX, UNIQUE_ID_LENGTH)


def new_service_password() -> str:
    """A service-specific password: base64 of 32 random bytes (256 bits, 44 characters)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_access_key_id() -> str:
    """A long-term access key id, ``AKIA`` + 16 characters."""
    return _prefixed(ACCESS_KEY_PREFIX, ACCESS_KEY_ID_LENGTH)


def new_temporary_access_key_id() -> str:
    """A temporary (STS) access key id, ``ASIA`` + 16 characters."""
    return _prefixed(TEMPORARY_ACCESS_KEY_PREFIX, ACCESS_KEY_ID_LENGTH)


def new_secret_access_key() -> str:
    """A secret access key: 40 characters of the base64 alphabet (240 bits)."""
    return _random_chars(SECRET_ALPHABET, SECRET_ACCESS_KEY_LENGTH)


def new_session_token(nbytes: int = 192) -> str:
    """An opaque STS session token: standard base64 of ``nbytes`` random bytes.

    AWS's tokens are long base64 strings of several hundred characters; tools
    that size buffers or log-redact by shape expect the same.
    """
    return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def new_account_id() -> str:
    """A 12-digit account id. The first digit is never 0, so no tool that
    parses it as a number loses a digit."""
    return str(secrets.randbelow(9) + 1) + "".join(
        secrets.choice("0123456789") for _ in range(11)
    )


def new_request_id() -> str:
    """A request id, as AWS's: a lowercase uuid4 (random, from the OS's generator).

    ``uuid.uuid4()`` reads ``os.urandom`` once per id (a system call) and builds a UUID
    object: 27 us, about 2 % of a cached GetUser's CPU. The random bytes are read 4 KiB
    at a time instead (forgotten in a forked child, which must not repeat its parent's).
    """
    with _RANDOM_LOCK:
        at = _random[1]
        if at >= len(_random[0]):
            _random[0], at = os.urandom(16 * 256), 0
        _random[1] = at + 16
        raw = bytearray(_random[0][at : at + 16])
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_RANDOM_LOCK = threading.Lock()
#: Random bytes read ahead for request ids, and how many of them were used.
_random: list[Any] = [b"", 0]


def _forget_random() -> None:
    _random[:] = [b"", 0]


os.register_at_fork(after_in_child=_forget_random)


def is_account_id(value: str) -> bool:
    """True if ``value`` has the shape of an account id (exactly 12 digits)."""
    return len(value) == 12 and value.isascii() and value.isdigit()


def looks_like_access_key_id(value: str) -> bool:
    """True if ``value`` has the shape of an access key id selfiam issues."""
    return (
        len(value) == ACCESS_KEY_ID_LENGTH
        and value[:4] in (ACCESS_KEY_PREFIX, TEMPORARY_ACCESS_KEY_PREFIX)
        and all(c in ID_ALPHABET for c in value[4:])
    )
