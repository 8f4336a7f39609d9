"""``selfiam policy lint``: the engine's validation, then every action checked against AWS's.

The seed's pain: a policy kept "working" while AWS renamed the actions it named, and nobody
knew until a colleague could not do something. IAM accepts an action that does not exist, so
validation alone cannot catch it; the catalog of real actions can. Checks, per document:

1. ``parse_policy`` (what IAM would answer MalformedPolicyDocument for). A document that
   fails is reported with the engine's message and checked no further.
2. Each Action/NotAction entry against the catalog: an unknown service prefix, or a pattern
   that matches no action, is an error (with a suggestion when one is close).
3. For Allow statements, after wildcard expansion: the known privilege-escalation paths
   (`escalation.PATHS`), and write actions (Write, Permissions management, Tagging) granted on
   ``Resource: "*"`` although they act on a resource type they could be scoped to: warnings,
   with the reason.
4. Resources: policy variables in a document without ``"Version": "2012-10-17"`` (IAM then
   matches ``${aws:username}`` literally), an account field that is no account ID, and an
   IAM-style resource that is no resource type of its service: warnings.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from selfiam.catalog import Action, Catalog
from selfiam.cli.printable import printable
from selfiam.policy import MalformedPolicyError, PolicyKind, PolicySizeExceededError, parse_policy
from selfiam.policy.ast import Policy, Statement
from selfiam.tooling.escalation import BY_ACTION, Scope

ERROR = "error"
WARNING = "warning"

_ACCOUNT = re.compile(r"\d{12}")
_TYPE_WILDCARD = re.compile(r"[A-Za-z0-9-]*/?\*")  # "*", "role/*"
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str
    code: str
    message: str
    statement: int | None = None  # 1-based, as the engine's messages count
    sid: str | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Expansion:
    statement: int
    sid: str | None
    element: str  # Action or NotAction
    pattern: str
    actions: tuple[str, ...]


@dataclass(slots=True)
class FileReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    expansions: list[Expansion] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)


def lint_policy(
    text: str,
    *,
    path: str = "-",
    kind: PolicyKind = PolicyKind.MANAGED,
    catalog: Catalog | None = None,
) -> FileReport:
    """Lint one policy document."""
    report = FileReport(path)
    try:
        policy = parse_policy(text, kind)
    except PolicySizeExceededError as exc:
        report.findings.append(Finding(ERROR, "LimitExceeded", exc.message))
        return report
    except MalformedPolicyError as exc:
        report.findings.append(Finding(ERROR, "MalformedPolicyDocument", exc.message))
        return report
    _Linter(policy, catalog or Catalog.load(), report).run()
    return report


class _Linter:
    def __init__(self, policy: Policy, catalog: Catalog, report: FileReport) -> None:
        self.policy = policy
        self.catalog = catalog
        self.report = report
        self.variables = policy.version == "2012-10-17"

    def add(
        self, stmt: Statement, severity: str, code: str, message: str, pattern: str | None = None
    ) -> None:
        self.report.findings.append(
            Finding(severity, code, message, stmt.index + 1, stmt.sid or None, pattern)
        )

    def run(self) -> None:
        for stmt in self.policy.statements:
            matched = self._actions(stmt)
            self._resources(stmt)
            if stmt.is_allow:
                granted = self._granted(stmt, matched)
                self._escalation(stmt, granted)
                self._writes_everywhere(stmt, granted)

    # -- actions ------------------------------------------------------------------------------

    def _actions(self, stmt: Statement) -> dict[str, list[Action]]:
        """Each Action/NotAction entry -> the actions it matches; errors for those matching none."""
        element = "NotAction" if stmt.not_action else "Action"
        matched: dict[str, list[Action]] = {}
        for pattern in stmt.actions:
            actions = self.catalog.matching(pattern)
            matched[pattern.text] = actions
            if pattern.is_wildcard:
                self.report.expansions.append(
                    Expansion(
                        stmt.index + 1,
                        stmt.sid or None,
                        element,
                        pattern.text,
                        tuple(a.full_name for a in actions),
                    )
                )
            if actions:
                continue
            service = self.catalog.service(pattern.service)
            if service is None:
                hint = _suggest(pattern.service, (s.prefix for s in self.catalog.services()))
                self.add(
                    stmt,
                    ERROR,
                    "unknown-service",
                    f'{element} {pattern.text}: no AWS service has the prefix "{pattern.service}"'
                    + (f"; did you mean {hint}?" if hint else ""),
                    pattern.text,
                )
                continue
            name = pattern.text.partition(":")[2]
            hint = None
            if not pattern.is_wildcard:
                hint = _suggest(name, (a.name for a in service.actions.values()))
            self.add(
                stmt,
                ERROR,
                "unknown-action",
                f"{element} {pattern.text} matches no action of {service.name}"
                + (f"; did you mean {service.prefix}:{hint}?" if hint else ""),
                pattern.text,
            )
        return matched

    def _granted(self, stmt: Statement, matched: dict[str, list[Action]]) -> dict[Action, str]:
        """The actions an Allow statement grants -> the entry granting it (for messages)."""
        if not stmt.not_action:
            granted: dict[Action, str] = {}
            for text, actions in matched.items():
                for action in actions:
                    granted.setdefault(action, text)
            return granted
        excluded = {a for actions in matched.values() for a in actions}
        label = "NotAction [" + ", ".join(matched) + "]"
        return {a: label for a in self.catalog.actions() if a not in excluded}

    # -- grants ------------------------------------------------------------------------------

    def _escalation(self, stmt: Statement, granted: dict[Action, str]) -> None:
        resources = _resource_texts(stmt)
        for action, source in sorted(granted.items(), key=lambda g: g[0].full_name):
            path = BY_ACTION.get(action.full_name.lower())
            if path is None:
                continue
            if path.scope is Scope.OTHER_USERS and _own_user_only(stmt):
                continue
            if path.scope is Scope.ALL_RESOURCES and not _all_resources(stmt):
                continue
            where = {
                Scope.ANYWHERE: "",
                Scope.OTHER_USERS: f" (granted on {resources}, not only the holder's own user)",
                Scope.ALL_RESOURCES: f" (granted on {resources})",
            }[path.scope]
            via = "" if source == action.full_name else f" (from {source})"
            condition = (
                "; the statement has a Condition: check that it closes this path"
                if stmt.condition
                else ""
            )
            self.add(
                stmt,
                WARNING,
                "privilege-escalation",
                f"{action.full_name}{via} {path.reason}{where}: a privilege-escalation path"
                + condition,
                source if not source.startswith("NotAction") else None,
            )

    def _writes_everywhere(self, stmt: Statement, granted: dict[Action, str]) -> None:
        if not (stmt.not_resource or stmt.any_resource or stmt.resources is None):
            return
        # An action with no resource type can be granted on "*" only: nothing to scope.
        writes = sorted(a.full_name for a in granted if a.writes and a.resource_types)
        if not writes:
            return
        shown = ", ".join(writes[:_SHOWN])
        more = f" and {len(writes) - _SHOWN} more" if len(writes) > _SHOWN else ""
        target = "NotResource" if stmt.not_resource else 'Resource "*"'
        self.add(
            stmt,
            WARNING,
            "write-on-all-resources",
            f"{target} grants {len(writes)} write action(s) on every resource: {shown}{more}; "
            "scope them to the resources they need",
        )

    # -- resources ---------------------------------------------------------------------------

    def _resources(self, stmt: Statement) -> None:
        texts = [r.text for r in stmt.resources or ()]
        if not self.variables and any("${" in t for t in texts):
            self.add(
                stmt,
                WARNING,
                "literal-variable",
                'policy variables such as ${aws:username} need "Version": "2012-10-17"; '
                "without it IAM reads them as literal text, and no real resource matches "
                + ", ".join(t for t in texts if "${" in t),
            )
        for text in texts:
            fields = text.split(":", 5)
            if len(fields) != 6:
                continue
            account = fields[4]
            if account and not _ACCOUNT.fullmatch(account) and not _has_wildcard(account):
                self.add(
                    stmt,
                    WARNING,
                    "account-id",
                    f'Resource {text}: the account field "{account}" is no 12-digit account ID, '
                    "so the resource matches nothing",
                )
            heads = self._resource_heads(fields[2])
            head = re.split(r"[*?]|\$\{", fields[5], maxsplit=1)[0]
            if heads and not any(head.startswith(h) or h.startswith(head) for h in heads):
                self.add(
                    stmt,
                    WARNING,
                    "resource-type",
                    f'Resource {text}: "{fields[5]}" is no resource of {fields[2]} (its ARNs end '
                    + " or ".join(sorted(f"{h}..." for h in heads if h))
                    + "), so the resource matches nothing",
                )

    def _resource_heads(self, service: str) -> set[str]:
        """The literal start of each resource part of `service`'s ARN templates ("user/")."""
        found = self.catalog.service(service) if not _has_wildcard(service) else None
        if found is None:
            return set()
        heads = set()
        for template in found.resources.values():
            fields = template.split(":", 5)
            if len(fields) == 6 and fields[2] == service:
                heads.add(fields[5].split("${", 1)[0])
        return set() if "" in heads else heads


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text or "${" in text


def _resource_texts(stmt: Statement) -> str:
    if stmt.resources is None:
        return "any resource"
    texts = ", ".join(r.text for r in stmt.resources)
    return f"every resource but {texts}" if stmt.not_resource else texts


def _own_user_only(stmt: Statement) -> bool:
    """Every Resource ends in the caller's own name: ``.../${aws:username}``."""
    if stmt.resources is None or stmt.not_resource:
        return False
    for resource in stmt.resources:
        fields = resource.text.split(":", 5)
        if len(fields) != 6 or not fields[5].lower().endswith("/${aws:username}"):
            return False
    return True


def _all_resources(stmt: Statement) -> bool:
    """Granted on everything of a kind: "*", NotResource, or a resource part like ``role/*``."""
    if stmt.resources is None or stmt.not_resource or stmt.any_resource:
        return True
    for resource in stmt.resources:
        fields = resource.text.split(":", 5)
        if len(fields) == 6 and _TYPE_WILDCARD.fullmatch(fields[5]):
            return True
        if len(fields) < 6 and resource.text.endswith("*"):
            return True
    return False


def _suggest(word: str, candidates: Iterable[str]) -> str | None:
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.8)
    return by_lower[close[0]] if close else None


# ---------------------------------------------------------------------------------------------
# Rendering.


def _where(finding: Finding) -> str:
    if finding.statement is None:
        return ""
    sid = f' (Sid "{printable(finding.sid)}")' if finding.sid else ""
    return f" statement {finding.statement}{sid}:"


def render_text(reports: Sequence[FileReport], *, expand: bool, catalog: Catalog | None) -> str:
    """Readable lines: ``FILE: statement N (Sid "S"): severity [code]: message``.

    What a policy says (a Sid, a pattern, a message quoting one) is made `printable`: one
    finding is one line, and a document cannot send escape sequences to the terminal."""
    lines: list[str] = []
    for report in reports:
        path = printable(report.path)
        lines.extend(
            f"{path}:{_where(f)} {f.severity} [{f.code}]: {printable(f.message)}"
            for f in report.findings
        )
        if expand:
            for e in report.expansions:
                sid = f' (Sid "{printable(e.sid)}")' if e.sid else ""
                head = f"{path}: statement {e.statement}{sid}: {e.element} {printable(e.pattern)}"
                if e.pattern == "*":
                    lines.append(f"{head} matches every action ({len(e.actions)})")
                    continue
                lines.append(f"{head} expands to {len(e.actions)} action(s)")
                for name in e.actions:
                    level = catalog.access_level(name) if catalog else None
                    lines.append(f"    {name}" + (f"  ({level})" if level else ""))
    errors = sum(r.errors for r in reports)
    warnings = sum(r.warnings for r in reports)
    lines.append(f"{len(reports)} file(s): {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def render_json(reports: Sequence[FileReport], *, expand: bool) -> dict[str, Any]:
    files = []
    for report in reports:
        item: dict[str, Any] = {
            "file": report.path,
            "errors": report.errors,
            "warnings": report.warnings,
            "findings": [asdict(f) for f in report.findings],
        }
        if expand:
            item["expansions"] = [
                {**asdict(e), "actions": list(e.actions) if e.pattern != "*" else len(e.actions)}
                for e in report.expansions
            ]
        files.append(item)
    return {
        "files": files,
        "errors": sum(r.errors for r in reports),
        "warnings": sum(r.warnings for r in reports),
    }
