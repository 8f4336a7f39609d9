"""Parse and validate a policy document the way IAM's CreatePolicy / PutUserPolicy do.

Each error has two texts (see `errors`): `aws_message`, IAM's own words for that kind of
mistake ("Syntax errors in policy.", "Policy document should not specify a principal.", ...),
which the API answers; and `message`, which starts with IAM's wording where it says enough
and then says where: the statement (1-based, with its Sid) and the element, for the CLI and
the portal.

Version: a missing Version means 2008-10-17 (no policy variables). Only CreatePolicy and
CreatePolicyVersion refuse it (`require_current_version`).

Kind rules (IAM JSON policy element reference; "Has prohibited field Resource" is what IAM
answers for a trust policy with a Resource):

=================  =========================  =====================  ==================
kind               Principal / NotPrincipal   Resource / NotResource  Sid characters
=================  =========================  =====================  ==================
identity kinds     rejected                   required                [0-9A-Za-z]*
TRUST              required                   rejected                [0-9A-Za-z]*
RESOURCE           required                   required                any string
=================  =========================  =====================  ==================

Identity kinds are MANAGED, INLINE_*, SESSION and BOUNDARY. An empty Sid ("", which
terraform writes) is accepted and exempt from the uniqueness rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from selfiam.policy.ast import Policy, PolicyKind, PrincipalSpec, Statement
from selfiam.policy.conditions import ConditionBlock
from selfiam.policy.errors import (
    LEGACY_PARSING,
    NO_ACTIONS,
    NO_PRINCIPAL_ALLOWED,
    NO_RESOURCES,
    PRINCIPAL_REQUIRED,
    RESOURCE_PROHIBITED,
    SID_NOT_ALPHANUMERIC,
    SID_NOT_UNIQUE,
    SYNTAX_ERRORS,
    VERSION_REQUIRED,
    MalformedPolicyError,
    phase,
)
from selfiam.policy.limits import PolicySizeExceededError, check_size
from selfiam.policy.patterns import ActionPattern, ResourcePattern, action_pattern, resource_pattern
from selfiam.policy.positions import TextLayout, scan

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_SID_RE = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
#: A user's or role's unique id, the form IAM stores a trust policy's user and role ARNs in.
UNIQUE_ID_RE = re.compile(r"(AIDA|AROA)[A-Z0-9]{12,124}")
_PRINCIPAL_ARN_RE = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):(iam|sts)::([0-9]{12}):"
    r"(root|user/[^*?]+|role/[^*?]+|assumed-role/[^*?/]+/[^*?]+|federated-user/[^*?]+)"
)
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


class _Duplicate:
    """Marker left by the object hook; the scanner then says where the duplicate is."""

    found = False


def _reject_constant(name: str) -> Any:
    raise MalformedPolicyError(f"Syntax errors in policy: {name} is not valid JSON")


def _load(text: str) -> tuple[Any, TextLayout]:
    duplicate = _Duplicate()

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):
            duplicate.found = True
        return result

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedPolicyError(
            f"Syntax errors in policy: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedPolicyError("Syntax errors in policy: nested too deeply") from None
    layout = scan(text)
    if duplicate.found:
        if layout.duplicate_key is not None:
            key, offset = layout.duplicate_key
            line, column = layout.position(offset)
            raise MalformedPolicyError(
                f'Syntax errors in policy: duplicate key "{key}" at line {line}, column {column}'
            )
        raise MalformedPolicyError("Syntax errors in policy: duplicate key")
    return doc, layout


def _string_list(value: Any, element: str, where: str, empty_message: str) -> list[str]:
    """A string or a list of strings; an empty list is `empty_message` (AWS's words)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if not value:
            raise MalformedPolicyError(f"{empty_message} ({where})", empty_message)
        return list(value)
    raise MalformedPolicyError(
        f"Syntax errors in policy: {element} must be a string or a list of strings ({where})"
    )


def _invalid_principal(ptype: str, value: Any, where: str) -> MalformedPolicyError:
    shown = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    aws = f'Invalid principal in policy: "{ptype}":{shown}'
    return MalformedPolicyError(f"{aws} ({where})", aws)


def _principal(value: Any, where: str) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(wildcard=True)
    if not isinstance(value, dict) or not value:
        aws = f"Invalid principal in policy: {json.dumps(value)}"
        raise MalformedPolicyError(f"{aws} ({where})", aws)
    wildcard = False
    by_type: dict[str, list[str]] = {t: [] for t in _PRINCIPAL_TYPES}
    accounts: set[str] = set()
    arns: set[str] = set()
    roles: set[tuple[str, str]] = set()
    others: set[str] = set()
    unique_ids: set[str] = set()
    for ptype, raw in value.items():
        if ptype not in by_type:
            raise _invalid_principal(ptype, raw, where)
        if isinstance(raw, str):
            items = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
            items = list(raw)
        else:
            raise _invalid_principal(ptype, raw, where)
        for item in items:
            if not item:
                raise _invalid_principal(ptype, item, where)
            by_type[ptype].append(item)
            if ptype != "AWS":
                if item == "*":
                    raise _invalid_principal(ptype, item, where)
                others.add(item.lower())
                continue
            if item == "*":
                wildcard = True
            elif _ACCOUNT_RE.fullmatch(item):
                accounts.add(item)
            elif UNIQUE_ID_RE.fullmatch(item):
                unique_ids.add(item)
            else:
                m = _PRINCIPAL_ARN_RE.fullmatch(item)
                if m is None or (m.group(2) == "sts") != m.group(4).startswith(
                    ("assumed-role/", "federated-user/")
                ):
                    raise _invalid_principal(ptype, item, where)
                account, resource = m.group(3), m.group(4)
                if resource == "root":
                    accounts.add(account)
                elif resource.startswith("role/"):
                    roles.add((account, resource.rsplit("/", 1)[1].lower()))
                else:
                    arns.add(item.lower())
    return PrincipalSpec(
        wildcard=wildcard,
        aws=tuple(by_type["AWS"]),
        service=tuple(by_type["Service"]),
        federated=tuple(by_type["Federated"]),
        canonical_user=tuple(by_type["CanonicalUser"]),
        accounts=frozenset(accounts),
        arns=frozenset(arns),
        role_names=frozenset(roles),
        others=frozenset(others),
        unique_ids=frozenset(unique_ids),
    )


def _one_of(raw: Mapping[str, Any], name: str, where: str) -> tuple[Any, bool] | None:
    """The value of `name` or `Not<name>`, and whether it was the Not form."""
    has, has_not = name in raw, f"Not{name}" in raw
    if has and has_not:
        raise MalformedPolicyError(
            f"Statement can contain only one of {name} and Not{name} ({where})"
        )
    if has:
        return raw[name], False
    if has_not:
        return raw[f"Not{name}"], True
    return None


def _statement(
    raw: Any,
    index: int,
    kind: PolicyKind,
    variables: bool,
    span: tuple[tuple[int, int], tuple[int, int]],
) -> Statement:
    where = f"statement {index + 1}"
    if not isinstance(raw, dict):
        raise MalformedPolicyError(f"Syntax errors in policy: {where} must be a JSON object")
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise MalformedPolicyError(f"Syntax errors in policy: Sid must be a string ({where})")
        if sid:
            where = f'{where} (Sid "{sid}")'
    for element in raw:
        if element not in _STATEMENT_ELEMENTS:
            raise MalformedPolicyError(
                f'Syntax errors in policy: unknown element "{element}" ({where})'
            )

    # IAM checks in phases (see errors.phase): the syntax of every element, then its legacy
    # parser (Effect's case, dates), the actions' presence, the resources' ARNs, the actions'
    # vendors, the resources' presence. The checks below keep that order.
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicyError(f"Missing required field Effect ({where})")
    legacy_effect = isinstance(effect, str) and effect.lower() in ("allow", "deny")
    if effect not in ("Allow", "Deny") and not legacy_effect:
        raise MalformedPolicyError(
            f'Invalid effect: {json.dumps(effect)}; Effect must be "Allow" or "Deny" ({where})'
        )
    action = _one_of(raw, "Action", where)
    resource = _one_of(raw, "Resource", where)
    action_element = "NotAction" if action is not None and action[1] else "Action"
    action_texts = (
        _string_list(action[0], action_element, where, NO_ACTIONS) if action is not None else []
    )
    resource_element = "NotResource" if resource is not None and resource[1] else "Resource"
    resource_texts = (
        _string_list(resource[0], resource_element, where, NO_RESOURCES)
        if resource is not None and kind is not PolicyKind.TRUST
        else []
    )
    condition: ConditionBlock | None = None
    if "Condition" in raw:
        block = raw["Condition"]
        if not isinstance(block, dict):
            raise MalformedPolicyError(
                f"Syntax errors in policy: Condition must be a JSON object ({where})"
            )
        condition = ConditionBlock.compile(block, variables, f"{where}, Condition")
    if effect not in ("Allow", "Deny"):
        # IAM's syntax check takes "allow" in any case; its legacy parser refuses it.
        raise MalformedPolicyError(
            f'Invalid effect: {json.dumps(effect)}; Effect must be "Allow" or "Deny" ({where})',
            LEGACY_PARSING,
        )
    if action is None:
        raise MalformedPolicyError(f"{NO_ACTIONS} ({where})", NO_ACTIONS)

    resources: tuple[ResourcePattern, ...] | None = None
    variable_keys: list[str] = []
    if kind is PolicyKind.TRUST and resource is not None:
        raise MalformedPolicyError(
            f"Has prohibited field {resource_element}. ({where})", RESOURCE_PROHIBITED
        )
    if resource is not None:
        compiled = []
        for text in resource_texts:
            try:
                pattern = resource_pattern(text, variables)
            except MalformedPolicyError as exc:
                raise exc.located(f"{where}, {resource_element}") from None
            compiled.append(pattern)
            variable_keys.extend(k for k in pattern.variable_keys if k not in variable_keys)
        resources = tuple(compiled)

    actions: list[ActionPattern] = []
    for text in action_texts:
        try:
            actions.append(action_pattern(text))
        except MalformedPolicyError as exc:
            raise exc.located(f"{where}, {action_element}") from None

    if resource is None and kind is not PolicyKind.TRUST:
        raise MalformedPolicyError(f"{NO_RESOURCES} ({where})", NO_RESOURCES)

    if isinstance(sid, str) and kind is not PolicyKind.RESOURCE and not _SID_RE.fullmatch(sid):
        raise MalformedPolicyError(f"{SID_NOT_ALPHANUMERIC} ({where})", SID_NOT_ALPHANUMERIC)

    principal = _one_of(raw, "Principal", where)
    spec: PrincipalSpec | None = None
    if not kind.takes_principal:
        if principal is not None:
            raise MalformedPolicyError(f"{NO_PRINCIPAL_ALLOWED} ({where})", NO_PRINCIPAL_ALLOWED)
    elif principal is None:
        raise MalformedPolicyError(f"{PRINCIPAL_REQUIRED} ({where})", PRINCIPAL_REQUIRED)
    else:
        spec = _principal(principal[0], where)

    return Statement(
        index=index,
        sid=sid if sid else None,
        effect=effect,
        actions=tuple(actions),
        not_action=action[1],
        resources=resources,
        not_resource=resource is not None and resource[1],
        principal=spec,
        not_principal=principal is not None and principal[1],
        condition=condition,
        start=span[0],
        end=span[1],
        resource_variable_keys=tuple(variable_keys),
        any_resource=resource is not None
        and not resource[1]
        and "*" in _string_list(resource[0], "Resource", where, ""),
    )


def parse_policy(
    text: str,
    kind: PolicyKind = PolicyKind.MANAGED,
    policy_id: str = "",
    *,
    enforce_size: bool = True,
    require_current_version: bool = False,
) -> Policy:
    """Parse, validate and compile a policy document.

    Raises MalformedPolicyError (what is wrong, and where), or its subclass
    `limits.PolicySizeExceededError` when the document is over its kind's size quota.
    ``enforce_size=False`` compiles a stored document whose size was checked when it was
    stored, or that no quota binds: AWS's own managed policies (ReadOnlyAccess is ~90,000
    characters) are far over the customer quota.

    `require_current_version` is IAM's rule for a new managed policy or policy version
    (CreatePolicy, CreatePolicyVersion): a document without Version, or with 2008-10-17, is
    refused with "Policy document must be version 2012-10-17 or greater.". IAM checks it
    after the syntax and before everything else, so a syntax error still wins. Inline and
    trust policies keep accepting both (their Version defaults to 2008-10-17).
    """
    if not require_current_version:
        return _parse(text, kind, policy_id, enforce_size)
    try:
        policy = _parse(text, kind, policy_id, enforce_size)
    except PolicySizeExceededError:
        raise
    except MalformedPolicyError as err:
        if err.aws_message == SYNTAX_ERRORS or _declared_version(text) == CURRENT_VERSION:
            raise
        raise _old_version(_declared_version(text)) from None
    if policy.version != CURRENT_VERSION:
        raise _old_version(policy.version)
    return policy


CURRENT_VERSION = "2012-10-17"


def _declared_version(text: str) -> object:
    """The Version of a document that passed the syntax check (so it is a JSON object)."""
    doc = json.loads(text)
    return doc.get("Version") if isinstance(doc, dict) else None


def _old_version(version: object) -> MalformedPolicyError:
    said = "has no Version" if version is None else f"is Version {json.dumps(version)}"
    return MalformedPolicyError(
        f"{VERSION_REQUIRED} The document {said}: a managed policy must say "
        f'"Version": "{CURRENT_VERSION}".',
        VERSION_REQUIRED,
    )


def _parse(text: str, kind: PolicyKind, policy_id: str, enforce_size: bool) -> Policy:
    if not isinstance(text, str):
        raise MalformedPolicyError("Syntax errors in policy: the policy document must be text")
    if enforce_size:
        check_size(text, kind)
    doc, layout = _load(text)
    if not isinstance(doc, dict):
        raise MalformedPolicyError("Syntax errors in policy: the policy must be a JSON object")
    for element in doc:
        if element not in _TOP_ELEMENTS:
            raise MalformedPolicyError(
                f'Syntax errors in policy: unknown element "{element}" at the top level'
            )
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise MalformedPolicyError(
            f"Invalid policy Version {json.dumps(version)}: "
            'Version must be "2012-10-17" or "2008-10-17"'
        )
    policy_name = doc.get("Id")
    if policy_name is not None and not isinstance(policy_name, str):
        raise MalformedPolicyError("Syntax errors in policy: Id must be a string")
    if "Statement" not in doc:
        raise MalformedPolicyError("Missing required field Statement")
    raw = doc["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    elif not isinstance(raw, list) or not raw:
        raise MalformedPolicyError(
            "Syntax errors in policy: Statement must be an object or a non-empty list"
        )
    variables = version == "2012-10-17"
    spans = layout.statement_spans
    statements: list[Statement] = []
    sids: set[str] = set()
    # IAM reports the mistake of its earliest phase over the whole document (errors.phase),
    # so a statement's error waits while the later statements are checked for an earlier one.
    first: tuple[int, MalformedPolicyError] | None = None
    for index, item in enumerate(raw):
        if index < len(spans):
            start, end = spans[index]
            span = (layout.position(start), layout.position(end))
        else:  # not an object: _statement rejects it
            span = ((0, 0), (0, 0))
        sid = item.get("Sid") if isinstance(item, dict) else None
        if isinstance(sid, str) and sid:
            if sid in sids and (first is None or first[0] > phase(SID_NOT_UNIQUE)):
                duplicate = MalformedPolicyError(
                    f'{SID_NOT_UNIQUE} (duplicate Sid "{sid}" in statement {index + 1})',
                    SID_NOT_UNIQUE,
                )
                first = (phase(SID_NOT_UNIQUE), duplicate)
            sids.add(sid)
        try:
            statements.append(_statement(item, index, kind, variables, span))
        except MalformedPolicyError as err:
            rank = phase(err.aws_message)
            if first is None or rank < first[0]:
                first = (rank, err)
            if rank == phase(SYNTAX_ERRORS):
                break  # nothing comes before it
    if first is not None:
        raise first[1]
    return Policy(
        policy_id=policy_id,
        kind=kind,
        version=version,
        id=policy_name,
        statements=tuple(statements),
        text=text,
    )
