""" "My security credentials": password, MFA, access keys, signing certificates, SSH keys,
service-specific credentials (CodeCommit/Keyspaces passwords, Bedrock/Logs API keys).

Every button is a POST that calls the service as the signed-in member. The
forms name the user (``UserName``, the member's own) exactly as the API does,
so a form forged to name someone else reaches the policy engine, which refuses
it (AccessDenied, shown on the page) — nothing is merely hidden.
"""

from __future__ import annotations

from typing import Any

import segno
from markupsafe import Markup
from starlette.responses import Response

from selfiam.domain import totp
from selfiam.domain.errors import AccessDenied, AwsError, EntityAlreadyExists, LimitExceeded
from selfiam.portal.web import Pages, View, done_messages
from selfiam.service.portal_sessions import clear_pending_mfa, pending_mfa, set_pending_mfa

pages = Pages()

done_messages(
    {
        "key-activated": "The access key is active.",
        "key-deactivated": "The access key is inactive: requests signed with it are refused.",
        "key-deleted": "The access key has been deleted.",
        "mfa-enabled": "Your MFA device is assigned. Sign out and sign in again with a code "
        "from it to manage your access keys, certificates and SSH keys.",
        "mfa-removed": "Your MFA device has been removed.",
        "cert-uploaded": "The signing certificate has been uploaded.",
        "cert-activated": "The signing certificate is active.",
        "cert-deactivated": "The signing certificate is inactive.",
        "cert-deleted": "The signing certificate has been deleted.",
        "ssh-uploaded": "The SSH public key has been uploaded.",
        "ssh-activated": "The SSH public key is active.",
        "ssh-deactivated": "The SSH public key is inactive.",
        "ssh-deleted": "The SSH public key has been deleted.",
        "svc-activated": "The service-specific credential is active.",
        "svc-deactivated": "The service-specific credential is inactive.",
        "svc-deleted": "The service-specific credential has been deleted.",
    }
)

LIMIT_REASONS = {
    "CreateAccessKey": "You already have two access keys, the most a user can have. "
    "Delete one before you create another.",
    "UploadSigningCertificate": "You already have two signing certificates, the most a user "
    "can have. Delete one before you upload another.",
    "UploadSSHPublicKey": "You already have five SSH public keys, the most a user can have. "
    "Delete one before you upload another.",
    "CreateServiceSpecificCredential": "You already have two credentials for this service, "
    "the most a user can have. Delete one before you create another.",
}

#: The services a member can make a credential for (``ServiceName``: what the page says).
SERVICE_NAMES = {
    "codecommit.amazonaws.com": "AWS CodeCommit (HTTPS Git)",
    "cassandra.amazonaws.com": "Amazon Keyspaces (for Apache Cassandra)",
    "bedrock.amazonaws.com": "Amazon Bedrock (API key)",
    "logs.amazonaws.com": "Amazon CloudWatch Logs (API key)",
}


def _section(view: View, call: Any, *args: Any, **kwargs: Any) -> Any:
    """One section's data, or the AccessDenied message that stands in its place."""
    try:
        return call(*args, **kwargs)
    except AccessDenied as denied:
        return {"denied": denied.message}


def _access_keys(view: View) -> dict[str, Any]:
    keys = view.invoke("ListAccessKeys", UserName=view.member.user_name)["AccessKeyMetadata"]
    for key in keys:
        try:
            used = view.invoke("GetAccessKeyLastUsed", AccessKeyId=key["AccessKeyId"])
            key["LastUsed"] = used["AccessKeyLastUsed"]
        except AwsError:
            key["LastUsed"] = None
    return {"items": keys}


def _ssh_keys(view: View) -> dict[str, Any]:
    name = view.member.user_name
    keys = view.invoke("ListSSHPublicKeys", UserName=name)["SSHPublicKeys"]
    for key in keys:
        full = view.invoke(
            "GetSSHPublicKey", UserName=name, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH"
        )
        key["Fingerprint"] = full["SSHPublicKey"]["Fingerprint"]
    return {"items": keys}


def _mfa(view: View) -> dict[str, Any]:
    devices = view.invoke("ListMFADevices", UserName=view.member.user_name)["MFADevices"]
    enrolment = None
    virtual = any(":mfa/" in device["SerialNumber"] for device in devices)
    pending = pending_mfa(view.runtime, view.member) if not virtual else None
    if pending is not None:
        serial, seed = pending
        label = view.member.account_id
        uri = totp.provisioning_uri(seed, view.member.user_name, label)
        qr = segno.make(uri, error="m").svg_inline(scale=5, border=4, light="#fff")
        enrolment = {"serial": serial, "seed": seed, "qr": Markup(qr)}
    return {"items": devices, "enrolment": enrolment, "virtual": virtual}


def credentials_page(view: View, *, status: int = 200, **context: Any) -> Response:
    name = view.member.user_name
    return view.render(
        "credentials.html",
        status=status,
        user=_section(view, view.invoke, "GetUser", UserName=name),
        mfa=_section(view, _mfa, view),
        access_keys=_section(view, _access_keys, view),
        certificates=_section(
            view,
            lambda: {
                "items": view.invoke("ListSigningCertificates", UserName=name)["Certificates"]
            },
        ),
        ssh_keys=_section(view, _ssh_keys, view),
        service_credentials=_section(
            view,
            lambda: {
                "items": view.invoke("ListServiceSpecificCredentials", UserName=name)[
                    "ServiceSpecificCredentials"
                ]
            },
        ),
        service_names=SERVICE_NAMES,
        **context,
    )


@pages.get("/credentials")
def credentials(view: View) -> Response:
    return credentials_page(view)


def _target(view: View) -> str:
    """The user a form names: the member's own name unless the form says otherwise (the
    policy engine decides whether the member may act on that user)."""
    return view.field("UserName").strip() or view.member.user_name


def _act(view: View, operation: str, done: str, **params: Any) -> Response:
    """Run one operation for a form; success redirects with a message, an error re-renders
    the page with AWS's message (and the reason when a limit is hit)."""
    user = _target(view)
    try:
        view.invoke(operation, UserName=user, **params)
    except AwsError as err:
        return _refused(view, operation, err)
    return _back(view, user, done)


def _set_status(view: View, operation: str, id_field: str, done_prefix: str) -> Response:
    """Activate or deactivate the credential named by the form's ``id_field``; anything but
    "Active" deactivates."""
    status = "Active" if view.field("Status") == "Active" else "Inactive"
    done = f"{done_prefix}-activated" if status == "Active" else f"{done_prefix}-deactivated"
    return _act(view, operation, done, **{id_field: view.field(id_field), "Status": status})


def _refused(view: View, operation: str, err: AwsError) -> Response:
    message = err.message
    if isinstance(err, LimitExceeded) and operation in LIMIT_REASONS:
        message = f"{LIMIT_REASONS[operation]} ({err.message})"
    return credentials_page(view, status=err.status, error=message, code=err.code)


def _back(view: View, user: str, done: str) -> Response:
    if user.lower() == view.member.user_name.lower():
        return view.redirect("/credentials", done=done)
    return view.redirect(f"/users/{user}", done=done)


# -- access keys ---------------------------------------------------------------------------


@pages.post("/credentials/access-keys/create")
def create_access_key(view: View) -> Response:
    user = _target(view)
    try:
        key = view.invoke("CreateAccessKey", UserName=user)["AccessKey"]
    except AwsError as err:
        return _refused(view, "CreateAccessKey", err)
    if view.field("format") == "csv":
        # AWS's file: one header line and the key; served by this POST, never from a URL.
        body = f"Access key ID,Secret access key\n{key['AccessKeyId']},{key['SecretAccessKey']}\n"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{key["UserName"]}_accessKeys.csv"'
            },
        )
    return view.render("access_key_created.html", key=key)


@pages.post("/credentials/access-keys/update")
def update_access_key(view: View) -> Response:
    return _set_status(view, "UpdateAccessKey", "AccessKeyId", "key")


@pages.post("/credentials/access-keys/delete")
def delete_access_key(view: View) -> Response:
    return _act(view, "DeleteAccessKey", "key-deleted", AccessKeyId=view.field("AccessKeyId"))


# -- service-specific credentials ----------------------------------------------------------


def _show_secret(view: View, operation: str, **params: Any) -> Response:
    """Create or reset: the page shows the password (or API key) once; it is never put in a
    URL or a redirect, and the service keeps it only sealed."""
    try:
        out = view.invoke(operation, UserName=_target(view), **params)
    except AwsError as err:
        return _refused(view, operation, err)
    credential = out["ServiceSpecificCredential"]
    return view.render(
        "service_credential_created.html",
        credential=credential,
        service=SERVICE_NAMES.get(credential["ServiceName"], credential["ServiceName"]),
        reset=operation.startswith("Reset"),
    )


@pages.post("/credentials/service-credentials/create")
def create_service_credential(view: View) -> Response:
    return _show_secret(
        view, "CreateServiceSpecificCredential", ServiceName=view.field("ServiceName")
    )


@pages.post("/credentials/service-credentials/reset")
def reset_service_credential(view: View) -> Response:
    credential_id = view.field("ServiceSpecificCredentialId")
    return _show_secret(
        view, "ResetServiceSpecificCredential", ServiceSpecificCredentialId=credential_id
    )


@pages.post("/credentials/service-credentials/update")
def update_service_credential(view: View) -> Response:
    return _set_status(
        view, "UpdateServiceSpecificCredential", "ServiceSpecificCredentialId", "svc"
    )


@pages.post("/credentials/service-credentials/delete")
def delete_service_credential(view: View) -> Response:
    credential_id = view.field("ServiceSpecificCredentialId")
    return _act(
        view,
        "DeleteServiceSpecificCredential",
        "svc-deleted",
        ServiceSpecificCredentialId=credential_id,
    )


# -- signing certificates ------------------------------------------------------------------


@pages.post("/credentials/certificates/upload")
def upload_certificate(view: View) -> Response:
    body = view.field("CertificateBody").strip()
    return _act(view, "UploadSigningCertificate", "cert-uploaded", CertificateBody=body)


@pages.post("/credentials/certificates/update")
def update_certificate(view: View) -> Response:
    return _set_status(view, "UpdateSigningCertificate", "CertificateId", "cert")


@pages.post("/credentials/certificates/delete")
def delete_certificate(view: View) -> Response:
    return _act(
        view, "DeleteSigningCertificate", "cert-deleted", CertificateId=view.field("CertificateId")
    )


# -- SSH public keys ------------------------------------------------------------------------


@pages.post("/credentials/ssh-keys/upload")
def upload_ssh_key(view: View) -> Response:
    body = view.field("SSHPublicKeyBody").strip()
    return _act(view, "UploadSSHPublicKey", "ssh-uploaded", SSHPublicKeyBody=body)


@pages.post("/credentials/ssh-keys/update")
def update_ssh_key(view: View) -> Response:
    return _set_status(view, "UpdateSSHPublicKey", "SSHPublicKeyId", "ssh")


@pages.post("/credentials/ssh-keys/delete")
def delete_ssh_key(view: View) -> Response:
    return _act(
        view, "DeleteSSHPublicKey", "ssh-deleted", SSHPublicKeyId=view.field("SSHPublicKeyId")
    )


# -- MFA -------------------------------------------------------------------------------------


@pages.post("/credentials/mfa/start")
def start_mfa(view: View) -> Response:
    """Create the member's virtual device (named after them, as the SelfService policy
    requires) and keep its seed, sealed, in the session until two codes enable it."""
    if pending_mfa(view.runtime, view.member) is not None:
        return view.redirect("/credentials")
    name = view.member.user_name
    try:
        device = view.invoke("CreateVirtualMFADevice", VirtualMFADeviceName=name, Path="/")
    except EntityAlreadyExists:
        return credentials_page(
            view,
            status=409,
            error="An MFA device you started to set up earlier was never finished. "
            "Ask an administrator to delete it, then try again.",
            code="EntityAlreadyExists",
        )
    except AwsError as err:
        return _refused(view, "CreateVirtualMFADevice", err)
    created = device["VirtualMFADevice"]
    seed = created["Base32StringSeed"]
    seed_text = seed.decode("ascii") if isinstance(seed, bytes) else str(seed)
    set_pending_mfa(view.runtime, view.member, created["SerialNumber"], seed_text)
    return view.redirect("/credentials")


@pages.post("/credentials/mfa/enable")
def enable_mfa(view: View) -> Response:
    pending = pending_mfa(view.runtime, view.member)
    if pending is None:
        return view.redirect("/credentials")
    serial, _seed = pending
    try:
        view.invoke(
            "EnableMFADevice",
            UserName=view.member.user_name,
            SerialNumber=serial,
            AuthenticationCode1=view.field("code1").strip(),
            AuthenticationCode2=view.field("code2").strip(),
        )
    except AwsError as err:
        return _refused(view, "EnableMFADevice", err)
    clear_pending_mfa(view.runtime, view.member)
    return view.redirect("/credentials", done="mfa-enabled")


@pages.post("/credentials/mfa/remove")
def remove_mfa(view: View) -> Response:
    """Deactivate the device and delete it (AWS's console does both), all or nothing: the
    member needs both iam:DeactivateMFADevice on the user and iam:DeleteVirtualMFADevice on
    the device, or the device stays assigned and AWS's AccessDenied is shown."""
    user, serial = _target(view), view.field("SerialNumber")
    try:
        view.invoke_together(
            ("DeactivateMFADevice", {"UserName": user, "SerialNumber": serial}),
            ("DeleteVirtualMFADevice", {"SerialNumber": serial}),
        )
    except AwsError as err:
        return _refused(view, "DeactivateMFADevice", err)
    return _back(view, user, "mfa-removed")
