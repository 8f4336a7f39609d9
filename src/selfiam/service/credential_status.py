"""The status a caller may give a credential (access key, signing certificate, SSH key).

botocore's ``statusType`` enum is ``Active | Inactive | Expired``: ``Expired`` is a status
AWS itself reports, and AWS's API reference lists only ``Active | Inactive`` as the valid
values of UpdateAccessKey's, UpdateSigningCertificate's and UpdateSSHPublicKey's
``Status``. A model-valid ``Expired`` is therefore refused as AWS refuses any value
outside an operation's enum, before anything reaches the database's CHECK constraint.
"""

from __future__ import annotations

from selfiam.domain.errors import ValidationError

SETTABLE_STATUSES = ("Active", "Inactive")


def settable_status(status: str) -> str:
    """``status`` if a caller may set it; else AWS's one-violation ValidationError."""
    if status not in SETTABLE_STATUSES:
        raise ValidationError(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy"
            f" constraint: Member must satisfy enum value set: [{', '.join(SETTABLE_STATUSES)}]"
        )
    return status
