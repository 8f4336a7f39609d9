"""What an offboarded user may still hold through roles, and the steps that take it away.

A user named in a role's trust policy can assume the role again, and the role sessions
they already started live on until they expire (on AWS; selfiam ends them with the user).
`role_steps` finds the roles whose trust policy names the user (ListRoles, then GetRole
for each role whose listed document does not say; paged), and for each returns:

* with ``revoke``, AWS's "revoke older sessions" inline policy (`revoke_policy`): Deny
  everything to the role's credentials issued before now, as the console's "Revoke active
  sessions" button writes it (every session of the role, not only the user's: that is the
  only revocation IAM has);
* UpdateAssumeRolePolicy without the user's principal (`without_principal`): a statement
  left with no principal is removed, and a policy left with no statement becomes one that
  admits no one (IAM requires a statement).

Each step reads the role again when it runs, so a re-run after an interruption does only
what is left, and a role deleted meanwhile is "already gone" (NoSuchEntity).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

#: The inline policy's name, as AWS's console names it.
REVOKE_POLICY_NAME = "AWSRevokeOlderSessions"
#: What a trust policy becomes when the user was its only principal.
ADMITS_NO_ONE = {
    "Sid": "NoOneAfterOffboarding",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "sts:AssumeRole",
}


def revoke_policy(now: datetime) -> str:
    """Deny ``*`` on ``*`` to credentials issued before ``now``, rounded up to the next
    second (``aws:TokenIssueTime`` has whole seconds: a session issued earlier in the same
    second would otherwise not be ``DateLessThan`` it)."""
    cutoff = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "DateLessThan": {"aws:TokenIssueTime": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")}
                },
            },
        }
    )


def document(value: Any) -> Any:
    """A policy document as boto3 hands it back: decoded already (a dict), or the
    URL-quoted JSON text IAM sends (an endpoint botocore did not decode it for)."""
    if isinstance(value, str):
        try:
            return json.loads(unquote(value))
        except ValueError:
            return json.loads(value)
    return value


def _statements(doc: Any) -> list[Any]:
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    return [statements] if isinstance(statements, dict) else list(statements)


def _aws_principals(statement: Any) -> list[str] | None:
    principal = statement.get("Principal") if isinstance(statement, dict) else None
    if not isinstance(principal, dict) or "AWS" not in principal:
        return None
    aws = principal["AWS"]
    return [aws] if isinstance(aws, str) else [str(v) for v in aws]


def names_principal(doc: Any, principals: set[str]) -> bool:
    """Whether an Allow statement of ``doc`` names one of ``principals`` (lower-case ARNs
    or unique ids) as an AWS principal."""
    return any(
        statement.get("Effect") == "Allow"
        and any(v.lower() in principals for v in (_aws_principals(statement) or ()))
        for statement in _statements(doc)
    )


def without_principal(doc: Any, principals: set[str]) -> dict[str, Any] | None:
    """``doc`` with ``principals`` taken out of its Allow statements; None when it names
    none of them. Deny statements are kept as they are: taking a principal out of a Deny
    would widen the policy."""
    kept: list[Any] = []
    changed = False
    for statement in _statements(doc):
        values = _aws_principals(statement)
        if statement.get("Effect") != "Allow" or values is None:
            kept.append(statement)
            continue
        left = [v for v in values if v.lower() not in principals]
        if len(left) == len(values):
            kept.append(statement)
            continue
        changed = True
        principal = dict(statement["Principal"])
        if left:
            principal["AWS"] = left
        else:
            del principal["AWS"]
        if principal:
            kept.append({**statement, "Principal": principal})
    if not changed:
        return None
    return {**doc, "Statement": kept or [ADMITS_NO_ONE]}


def trusting_roles(iam: Any, principals: set[str]) -> Iterator[dict[str, Any]]:
    """The roles whose trust policy names one of ``principals`` (every page of ListRoles;
    GetRole where the listing leaves the document out)."""
    for page in iam.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            trust = role.get("AssumeRolePolicyDocument")
            if trust is None:
                trust = iam.get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"]
            if names_principal(document(trust), principals):
                yield role


def _drop_principal(iam: Any, role_name: str, principals: set[str]) -> None:
    current = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    updated = without_principal(document(current), principals)
    if updated is not None:  # a re-run: already taken out
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(updated))


def _revoke(iam: Any, role_name: str, clock: Callable[[], datetime]) -> None:
    iam.put_role_policy(
        RoleName=role_name, PolicyName=REVOKE_POLICY_NAME, PolicyDocument=revoke_policy(clock())
    )


def role_steps(
    iam: Any,
    user: dict[str, Any],
    *,
    revoke: bool,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterable[tuple[str, str, Callable[[], None]]]:
    """``(what, action, call)`` for every role that trusts ``user`` (GetUser's User): the
    revocation first (with ``revoke``), so an interrupted run still finds the role by its
    trust policy and finishes it."""
    principals = {str(user["Arn"]).lower(), str(user["UserId"]).lower()}
    for role in trusting_roles(iam, principals):
        name, arn = role["RoleName"], role["Arn"]
        if revoke:
            yield (
                f"sessions of role {arn} issued before now ({REVOKE_POLICY_NAME}, every "
                "session of the role)",
                "PutRolePolicy",
                lambda name=name: _revoke(iam, name, clock),
            )
        yield (
            f"the user as a principal in the trust policy of role {arn}",
            "UpdateAssumeRolePolicy",
            lambda name=name: _drop_principal(iam, name, principals),
        )
