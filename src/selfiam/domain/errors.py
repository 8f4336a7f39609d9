"""One exception hierarchy carrying AWS's error codes and HTTP statuses.

Adapters render these: the API as AWS's XML error body, the portal as a page,
the CLI as a line and an exit code. Messages must never contain a secret.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error AWS would return, with its code, HTTP status and fault side."""

    code: str = "InternalFailure"
    status: int = 500
    sender_fault: bool = False

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: A more precise explanation than AWS's words, for adapters a person reads (the
        #: portal, the CLI); the API answers `message` alone, which is AWS's.
        self.detail = detail

    @property
    def explanation(self) -> str:
        """What to show a person: the precise detail when there is one, else the message."""
        return self.detail or self.message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _error(name: str, code: str, status: int, sender: bool = True) -> type[AwsError]:
    return type(name, (AwsError,), {"code": code, "status": status, "sender_fault": sender})


# Request shape and protocol.
ValidationError = _error("ValidationError", "ValidationError", 400)
InvalidAction = _error("InvalidAction", "InvalidAction", 400)
InvalidInput = _error("InvalidInput", "InvalidInput", 400)
MissingAction = _error("MissingAction", "MissingAction", 400)
MalformedQueryString = _error("MalformedQueryString", "MalformedQueryString", 404)

# Authentication.
MissingAuthenticationToken = _error("MissingAuthenticationToken", "MissingAuthenticationToken", 403)
IncompleteSignature = _error("IncompleteSignature", "IncompleteSignature", 400)
SignatureDoesNotMatch = _error("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403)
InvalidClientTokenId = _error("InvalidClientTokenId", "InvalidClientTokenId", 403)
RequestExpired = _error("RequestExpired", "RequestExpired", 400)
ExpiredToken = _error("ExpiredToken", "ExpiredToken", 400)

# Authorization.
AccessDenied = _error("AccessDenied", "AccessDenied", 403)

# Entities.
NoSuchEntity = _error("NoSuchEntity", "NoSuchEntity", 404)
EntityAlreadyExists = _error("EntityAlreadyExists", "EntityAlreadyExists", 409)
LimitExceeded = _error("LimitExceeded", "LimitExceeded", 409)
DeleteConflict = _error("DeleteConflict", "DeleteConflict", 409)
MalformedPolicyDocument = _error("MalformedPolicyDocument", "MalformedPolicyDocument", 400)
PolicyEvaluation = _error("PolicyEvaluation", "PolicyEvaluation", 500, sender=False)
ConcurrentModification = _error("ConcurrentModification", "ConcurrentModification", 409)
EntityTemporarilyUnmodifiable = _error(
    "EntityTemporarilyUnmodifiable", "EntityTemporarilyUnmodifiable", 409
)
InvalidUserType = _error("InvalidUserType", "InvalidUserType", 400)
PasswordPolicyViolation = _error("PasswordPolicyViolation", "PasswordPolicyViolation", 400)

# Signing certificates and SSH public keys (statuses from botocore's IAM error shapes).
MalformedCertificate = _error("MalformedCertificate", "MalformedCertificate", 400)
InvalidCertificate = _error("InvalidCertificate", "InvalidCertificate", 400)
DuplicateCertificate = _error("DuplicateCertificate", "DuplicateCertificate", 409)
DuplicateSSHPublicKey = _error("DuplicateSSHPublicKey", "DuplicateSSHPublicKey", 400)
UnrecognizedPublicKeyEncoding = _error(
    "UnrecognizedPublicKeyEncoding", "UnrecognizedPublicKeyEncoding", 400
)
InvalidPublicKey = _error("InvalidPublicKey", "InvalidPublicKey", 400)

# Service-specific credentials and server certificates (botocore's IAM error shapes).
NotSupportedService = _error("NotSupportedService", "NotSupportedService", 404)
KeyPairMismatch = _error("KeyPairMismatch", "KeyPairMismatch", 400)

# MFA devices (status from botocore's IAM error shape).
InvalidAuthenticationCode = _error("InvalidAuthenticationCode", "InvalidAuthenticationCode", 403)

# Credential reports (codes and statuses from botocore's IAM error shapes).
CredentialReportNotPresent = _error("CredentialReportNotPresent", "ReportNotPresent", 410)
CredentialReportExpired = _error("CredentialReportExpired", "ReportExpired", 410)
CredentialReportNotReady = _error("CredentialReportNotReady", "ReportInProgress", 404)

# STS (codes and statuses from botocore's STS error shapes).
PackedPolicyTooLarge = _error("PackedPolicyTooLarge", "PackedPolicyTooLarge", 400)
InvalidIdentityToken = _error("InvalidIdentityToken", "InvalidIdentityToken", 400)
ExpiredTokenException = _error("ExpiredTokenException", "ExpiredTokenException", 400)
IDPRejectedClaim = _error("IDPRejectedClaim", "IDPRejectedClaim", 403)
IDPCommunicationError = _error("IDPCommunicationError", "IDPCommunicationError", 400)
InvalidAuthorizationMessage = _error(
    "InvalidAuthorizationMessage", "InvalidAuthorizationMessageException", 400
)

# Service-linked roles (IAM's error shape).
UnmodifiableEntity = _error("UnmodifiableEntity", "UnmodifiableEntity", 400)
PolicyNotAttachable = _error("PolicyNotAttachable", "PolicyNotAttachable", 400)

ServiceFailure = _error("ServiceFailure", "ServiceFailure", 500, sender=False)
InternalFailure = _error("InternalFailure", "InternalFailure", 500, sender=False)
# Federation (codes and statuses from botocore's STS error shapes).
InvalidIdentityToken = _error("InvalidIdentityToken", "InvalidIdentityToken", 400)
ExpiredTokenException = _error("ExpiredTokenException", "ExpiredTokenException", 400)
IDPRejectedClaim = _error("IDPRejectedClaim", "IDPRejectedClaim", 403)
