"""The pure parts of ``selfiam setup self-service``: the desired document (and its no-MFA
variant), document comparison, and which policy version to prune."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from selfiam.tooling.setup import (
    MAX_POLICY_VERSIONS,
    MFA_STATEMENT_SID,
    Result,
    documents_equal,
    self_service_policy,
    version_to_prune,
)
from selfiam.tooling.verify import LocalSimulator, Target, battery, mismatches, run_battery

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "src/selfiam/domain/policies/self_service_credentials.json"
MEMBER = "selfiam-verify-member"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def mismatches_of(document: dict[str, Any], *, require_mfa: bool) -> list[Any]:
    probes = battery(Target(MEMBER), require_mfa=require_mfa)
    outcomes = run_battery(probes, LocalSimulator([json.dumps(document)]), MEMBER)
    return mismatches(outcomes)


def test_the_desired_document_is_the_checked_in_one() -> None:
    assert self_service_policy() == json.loads(CHECKED_IN.read_text())


def test_the_no_mfa_variant_only_drops_the_mfa_statement() -> None:
    full, relaxed = self_service_policy(), self_service_policy(require_mfa=False)
    assert [s for s in full["Statement"] if s.get("Sid") != MFA_STATEMENT_SID] == relaxed[
        "Statement"
    ]
    assert len(relaxed["Statement"]) == len(full["Statement"]) - 1
    # Each call is a fresh copy: changing one never changes the next.
    relaxed["Statement"].clear()
    assert self_service_policy(require_mfa=False)["Statement"]


def test_each_variant_passes_verify_with_its_own_setting_only() -> None:
    assert mismatches_of(self_service_policy(), require_mfa=True) == []
    relaxed = self_service_policy(require_mfa=False)
    assert mismatches_of(relaxed, require_mfa=False) == []
    assert mismatches_of(relaxed, require_mfa=True) != []


def test_documents_compare_as_parsed_json() -> None:
    doc = self_service_policy()
    reordered = json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":"))
    assert documents_equal(doc, reordered)
    assert documents_equal(json.dumps(doc, indent=4), doc)
    assert documents_equal(quote(json.dumps(doc)), doc)  # IAM's URL-encoded text
    assert not documents_equal(doc, self_service_policy(require_mfa=False))
    changed = self_service_policy()
    changed["Statement"][0]["Action"] = list(reversed(changed["Statement"][0]["Action"]))
    assert not documents_equal(doc, changed)  # order within a list is kept, as written


def version(n: int, *, default: bool = False, age_days: int | None = None) -> dict[str, Any]:
    created = T0 + timedelta(days=n if age_days is None else age_days)
    return {"VersionId": f"v{n}", "IsDefaultVersion": default, "CreateDate": created}


def test_no_version_is_pruned_while_there_is_room() -> None:
    assert version_to_prune([]) is None
    assert version_to_prune([version(n, default=n == 4) for n in range(1, 5)]) is None


def test_the_oldest_non_default_version_is_pruned_at_five() -> None:
    versions = [version(n, default=n == 5) for n in range(1, 6)]
    assert len(versions) == MAX_POLICY_VERSIONS
    assert version_to_prune(versions) == "v1"


def test_the_default_version_is_never_pruned_even_when_oldest() -> None:
    versions = [version(n, default=n == 1) for n in range(1, 6)]
    assert version_to_prune(versions) == "v2"


def test_creation_date_decides_and_the_number_breaks_ties() -> None:
    versions = [
        version(10, age_days=0),  # v10 is older than v2 (a SetDefaultPolicyVersion history)
        version(2, age_days=5),
        version(3, default=True),
        version(11, age_days=0),
        version(4),
    ]
    assert version_to_prune(versions) == "v10"
    same_day = [version(n, default=n == 9, age_days=1) for n in (12, 9, 10, 11, 13)]
    assert version_to_prune(same_day) == "v10"


@pytest.mark.parametrize(
    ("result", "dry_run", "line"),
    [
        (Result("create", "group G"), False, "created: group G"),
        (Result("create", "group G"), True, "would create: group G"),
        (Result("update", "policy P", "why"), False, "updated: policy P (why)"),
        (Result("attach", "P to G"), True, "would attach: P to G"),
        (Result("unchanged", "group G", "exists"), True, "unchanged: group G (exists)"),
    ],
)
def test_report_lines(result: Result, dry_run: bool, line: str) -> None:
    assert result.line(dry_run=dry_run) == line
