"""One-step offboarding: a user and everything of theirs, gone in one transaction.

selfiam's extra beyond AWS (DESIGN rule 4). AWS makes an admin delete a user's
access keys, certificates, SSH keys, service-specific credentials, MFA devices, login profile, policies and
group memberships one call at a time before DeleteUser succeeds; here it is
one operation, ``selfiam:OffboardUser``, reached through ``Runtime.invoke``
like every other (one transaction, one audit record).

It adds no power: it is authorized as the sum of its parts. The caller must be
allowed every IAM action the step-by-step way would need, each on the resource
AWS authorizes it on (the user's ARN; a virtual MFA device's ARN for
DeleteVirtualMFADevice; each group's ARN for RemoveUserFromGroup; with
``iam:PolicyARN`` and ``iam:PermissionsBoundary`` in the context where AWS
puts them), and all of it is checked before anything is removed. An action is
asked for only when there is something it would remove, as step by step.

Sessions need no permission of their own, as in AWS, where deleting a user
ends its temporary credentials: STS sessions and portal sessions go with the
user row (FK cascade), and the auth version is bumped, so every cached
credential of theirs is refused on its very next use, in every process.

``selfiam:GetOffboardingPlan`` lists what would be removed. It is gated by the
same checks: whoever could not offboard the user learns nothing from a plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, select

from selfiam.domain.arns import group_arn, role_arn, user_arn
from selfiam.domain.errors import InvalidClientTokenId
from selfiam.domain.identifiers import new_request_id
from selfiam.service.authn import INVALID_TOKEN
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.lookup import no_such_user
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.users import authorize_user
from selfiam.service.passkeys import forget_passkey
from selfiam.service.registry import operation
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row
from selfiam.store.owned import delete_owned

SERVICE = "selfiam"
OFFBOARD = "OffboardUser"
PLAN = "GetOffboardingPlan"
#: The table the portal keeps its server-side sessions in, once it exists.
PORTAL_SESSIONS = "portal_sessions"


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential of the user's: its id, its status, and when it was made."""

    id: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """Temporary credentials (an ASIA… key id) and when they would have expired."""

    access_key_id: str
    expires_at: datetime
    #: A role session's (AssumeRole): the role's ARN and the session's name.
    role_arn: str | None = None
    session_name: str | None = None


@dataclass(frozen=True, slots=True)
class OffboardingPlan:
    """Everything of one user's that offboarding removes."""

    user_name: str
    user_id: str
    user_arn: str
    access_keys: tuple[Credential, ...]
    signing_certificates: tuple[Credential, ...]
    ssh_public_keys: tuple[Credential, ...]
    mfa_devices: tuple[str, ...]  # serial numbers (ARNs): deactivated and deleted
    login_profile: bool
    inline_policies: tuple[str, ...]
    attached_policies: tuple[str, ...]  # policy ARNs
    permissions_boundary: str | None
    groups: tuple[tuple[str, str], ...]  # (name, ARN)
    sts_sessions: tuple[Session, ...]  # unexpired temporary credentials, role sessions too
    portal_sessions: int
    tags: tuple[tuple[str, str], ...]
    passkeys: tuple[str, ...] = ()  # serial numbers (u2f ARNs): removed
    #: CodeCommit/Keyspaces passwords and Bedrock/Logs API keys (ids).
    service_credentials: tuple[Credential, ...] = ()

    def sections(self) -> list[tuple[str, list[str]]]:
        """The plan as headings and lines, for the CLI and the portal (empty ones left out)."""

        def creds(items: tuple[Credential, ...]) -> list[str]:
            return [
                f"{c.id} ({c.status}, created {c.created_at:%Y-%m-%d %H:%M} UTC)" for c in items
            ]

        sections = [
            ("Access keys", creds(self.access_keys)),
            ("Signing certificates", creds(self.signing_certificates)),
            ("SSH public keys", creds(self.ssh_public_keys)),
            ("Service-specific credentials", creds(self.service_credentials)),
            ("MFA devices (deactivated and deleted)", list(self.mfa_devices)),
            ("Passkeys and security keys (removed)", list(self.passkeys)),
            ("Console password (login profile)", ["yes"] if self.login_profile else []),
            ("Inline policies", list(self.inline_policies)),
            ("Attached managed policies", list(self.attached_policies)),
            (
                "Permissions boundary",
                [self.permissions_boundary] if self.permissions_boundary else [],
            ),
            ("Group memberships", [name for name, _ in self.groups]),
            (
                "STS sessions (temporary credentials)",
                [
                    f"{s.access_key_id} (expires {s.expires_at:%Y-%m-%d %H:%M} UTC)"
                    for s in self.sts_sessions
                    if s.role_arn is None
                ],
            ),
            (
                "Role sessions they started (AssumeRole, chains included)",
                [
                    f"{s.access_key_id} as {s.role_arn} session {s.session_name} "
                    f"(expires {s.expires_at:%Y-%m-%d %H:%M} UTC)"
                    for s in self.sts_sessions
                    if s.role_arn is not None
                ],
            ),
            (
                "Portal sessions",
                [f"{self.portal_sessions} signed-in session(s)"] if self.portal_sessions else [],
            ),
            ("Tags", [f"{k}={v}" for k, v in self.tags]),
        ]
        return [(title, lines) for title, lines in sections if lines]


@dataclass(frozen=True, slots=True)
class OffboardingReport:
    """What was removed, when, and by which request (the audit record's request id)."""

    plan: OffboardingPlan
    removed_at: datetime
    request_id: str


# -- the public functions ----------------------------------------------------------------


def plan_offboarding(
    runtime: Runtime, caller: Caller, user_name: str, info: RequestInfo | None = None
) -> OffboardingPlan:
    """What ``offboard_user`` would remove, if ``caller`` may offboard ``user_name``."""
    out = runtime.invoke(SERVICE, PLAN, {"UserName": user_name}, caller, info or _info(runtime))
    plan: OffboardingPlan = out["Plan"]
    return plan


def offboard_user(
    runtime: Runtime, caller: Caller, user_name: str, info: RequestInfo
) -> OffboardingReport:
    """Remove ``user_name`` and everything of theirs in one transaction, as ``caller``."""
    out = runtime.invoke(SERVICE, OFFBOARD, {"UserName": user_name}, caller, info)
    report: OffboardingReport = out["Report"]
    return report


def _info(runtime: Runtime) -> RequestInfo:
    return RequestInfo(request_id=new_request_id(), now=runtime.clock(), service=SERVICE)


# -- the operations ---------------------------------------------------------------------


@operation(PLAN, service=SERVICE, writes=False)
def get_offboarding_plan(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = _authorize_user(ctx, str(params["UserName"]))
    plan = _collect(ctx, user)
    _authorize_parts(ctx, plan)
    return {"Plan": plan}


@operation(OFFBOARD, service=SERVICE)
def offboard(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["UserName"])
    user = _authorize_user(ctx, name)
    if not lock_user_row(ctx.conn, user.user_id):  # deleted since it was read
        raise no_such_user(name)
    plan = _collect(ctx, user)
    _authorize_parts(ctx, plan)
    _remove(ctx, plan)
    ctx.changed_authorization(user_id=user.user_id)
    return {"Report": OffboardingReport(plan, ctx.info.now, ctx.info.request_id)}


def _authorize_user(ctx: OperationContext, name: str) -> Row[Any]:
    """iam:DeleteUser on the user first: unknown users are NoSuchEntity only to those allowed.

    Temporary credentials obtained without MFA call no IAM operation (AWS), so
    they call none of these IAM operations in one step either.
    """
    caller = ctx.caller
    if caller.is_temporary and not caller.is_role_session and caller.mfa_authenticated_at is None:
        raise InvalidClientTokenId(INVALID_TOKEN)
    return authorize_user(ctx, name, action="iam:DeleteUser")


def _credentials(
    ctx: OperationContext, table: Table, key: str, when: str, user_id: str
) -> tuple[Credential, ...]:
    rows = ctx.conn.execute(
        select(table.c[key], table.c.status, table.c[when])
        .where(table.c.user_id == user_id)
        .order_by(table.c[when], table.c[key])
    ).all()
    return tuple(Credential(r[0], r[1], r[2]) for r in rows)


def _collect(ctx: OperationContext, user: Row[Any]) -> OffboardingPlan:
    conn, uid = ctx.conn, user.user_id
    m, ip, upa, mp = t.mfa_devices, t.inline_policies, t.user_policy_attachments, t.managed_policies
    g, gm, s = t.groups, t.group_members, t.sts_sessions
    devices = conn.execute(
        select(m.c.serial_number).where(m.c.user_id == uid).order_by(m.c.serial_number)
    ).scalars()
    inline = conn.execute(
        select(ip.c.name).where(ip.c.owner_type == "user", ip.c.owner_id == uid).order_by(ip.c.name)
    ).scalars()
    passkeys = conn.execute(
        select(t.passkeys.c.serial_number)
        .where(t.passkeys.c.user_id == uid)
        .order_by(t.passkeys.c.serial_number)
    ).scalars()
    attached = conn.execute(
        select(mp.c.arn)
        .select_from(upa.join(mp, mp.c.policy_id == upa.c.policy_id))
        .where(upa.c.user_id == uid)
        .order_by(mp.c.arn)
    ).scalars()
    groups = conn.execute(
        select(g.c.name, g.c.path)
        .select_from(gm.join(g, g.c.group_id == gm.c.group_id))
        .where(gm.c.user_id == uid)
        .order_by(g.c.name_lower)
    ).all()
    rs, r = t.role_sessions, t.roles
    sessions = [
        Session(row.access_key_id, row.expires_at)
        # GetSessionToken's sessions, and the federated users (GetFederationToken) it made
        for table in (s, t.federation_sessions)
        for row in conn.execute(
            select(table.c.access_key_id, table.c.expires_at).where(
                table.c.user_id == uid, table.c.expires_at > ctx.info.now
            )
        )
    ]
    sessions += [  # role sessions the user started, chains included
        Session(
            row.access_key_id,
            row.expires_at,
            role_arn(ctx.account_id, row.name, row.path),
            row.session_name,
        )
        for row in conn.execute(
            select(rs.c.access_key_id, rs.c.expires_at, rs.c.session_name, r.c.name, r.c.path)
            .select_from(rs.join(r, r.c.role_id == rs.c.role_id))
            .where(rs.c.user_id == uid, rs.c.expires_at > ctx.info.now)
        )
    ]
    sessions.sort(key=lambda session: (session.expires_at, session.access_key_id))
    has_profile = conn.execute(
        select(t.login_profiles.c.user_id).where(t.login_profiles.c.user_id == uid)
    ).first()
    tags = tagging.load_tags(conn, "user", uid)
    return OffboardingPlan(
        user_name=user.name,
        user_id=uid,
        user_arn=user_arn(ctx.account_id, user.name, user.path),
        access_keys=_credentials(ctx, t.access_keys, "access_key_id", "created_at", uid),
        signing_certificates=_credentials(
            ctx, t.signing_certificates, "certificate_id", "uploaded_at", uid
        ),
        ssh_public_keys=_credentials(
            ctx, t.ssh_public_keys, "ssh_public_key_id", "uploaded_at", uid
        ),
        mfa_devices=tuple(devices),
        login_profile=has_profile is not None,
        inline_policies=tuple(inline),
        attached_policies=tuple(attached),
        permissions_boundary=user.permissions_boundary_arn,
        groups=tuple((r.name, group_arn(ctx.account_id, r.name, r.path)) for r in groups),
        sts_sessions=tuple(sessions),
        portal_sessions=_count_portal_sessions(ctx, uid),
        tags=tuple(sorted(tags.items())),
        passkeys=tuple(passkeys),
        service_credentials=_credentials(
            ctx, t.service_specific_credentials, "credential_id", "created_at", uid
        ),
    )


def _portal_sessions_table() -> Table | None:
    table = t.metadata.tables.get(PORTAL_SESSIONS)
    return table if table is not None and "user_id" in table.c else None


def _count_portal_sessions(ctx: OperationContext, user_id: str) -> int:
    table = _portal_sessions_table()
    if table is None:
        return 0
    return len(ctx.conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).all())


def _authorize_parts(ctx: OperationContext, plan: OffboardingPlan) -> None:
    """Every constituent action, before anything is removed; the first refusal is AWS's
    AccessDenied for that action and resource."""
    arn = plan.user_arn
    user_tags = dict(plan.tags) or None

    def on_user(action: str, extra: Mapping[str, str] | None = None) -> None:
        ctx.authorize(arn, action=f"iam:{action}", resource_tags=user_tags, extra_context=extra)

    if plan.access_keys:
        on_user("DeleteAccessKey")
    if plan.signing_certificates:
        on_user("DeleteSigningCertificate")
    if plan.ssh_public_keys:
        on_user("DeleteSSHPublicKey")
    if plan.service_credentials:
        on_user("DeleteServiceSpecificCredential")
    for serial in plan.mfa_devices:
        on_user("DeactivateMFADevice")
        ctx.authorize(
            serial,
            action="iam:DeleteVirtualMFADevice",
            resource_tags=tagging.load_tags(ctx.conn, "mfa", serial) or None,
        )
    if plan.passkeys:
        on_user("DeactivateMFADevice")
    if plan.login_profile:
        on_user("DeleteLoginProfile")
    if plan.inline_policies:
        on_user("DeleteUserPolicy")
    for policy in plan.attached_policies:
        on_user("DetachUserPolicy", {"iam:PolicyARN": policy})
    if plan.permissions_boundary:
        on_user(
            "DeleteUserPermissionsBoundary", {"iam:PermissionsBoundary": plan.permissions_boundary}
        )
    for _, group in plan.groups:
        ctx.authorize(group, action="iam:RemoveUserFromGroup")
    ctx.resource = arn  # the audit record names the user


def _remove(ctx: OperationContext, plan: OffboardingPlan) -> None:
    conn, uid = ctx.conn, plan.user_id
    for serial in plan.mfa_devices:
        delete_owned(conn, "mfa", serial)
    for serial in plan.passkeys:
        forget_passkey(conn, serial)
    by_user: list[Table] = [
        t.mfa_devices,
        t.passkeys,
        t.access_keys,
        t.signing_certificates,
        t.ssh_public_keys,
        t.service_specific_credentials,
        t.login_profiles,
        t.password_history,
        t.user_policy_attachments,
        t.group_members,
        t.sts_sessions,
        t.role_sessions,
        t.federation_sessions,
    ]
    portal = _portal_sessions_table()
    if portal is not None:
        by_user.append(portal)
    for table in by_user:
        conn.execute(table.delete().where(table.c.user_id == uid))
    delete_owned(conn, "user", uid)
    conn.execute(t.users.delete().where(t.users.c.user_id == uid))
