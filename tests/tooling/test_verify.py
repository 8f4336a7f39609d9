"""``selfiam verify self-service --local``: the checked-in policy passes; broken ones are caught."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from selfiam.cli.main import cli
from selfiam.tooling.escalation import PATHS
from selfiam.tooling.verify import (
    ROLE_ACTIONS,
    CustomPolicySimulator,
    LocalSimulator,
    Outcome,
    PagingError,
    Target,
    battery,
    mismatches,
    run_battery,
)

ROOT = Path(__file__).resolve().parents[2]
SELF_SERVICE = ROOT / "src/selfiam/domain/policies/self_service_credentials.json"
NO_MFA = Path(__file__).parent / "data" / "self_service_2026_no_mfa.json"
MEMBER = "selfiam-verify-member"


def verify(text: str, *, require_mfa: bool = True) -> list[Outcome]:
    target = Target(MEMBER)
    return run_battery(battery(target, require_mfa=require_mfa), LocalSimulator([text]), MEMBER)


def failing(outcomes: list[Outcome]) -> set[tuple[str, str, str]]:
    return {
        (o.probe.action, o.probe.resource.split(":", 5)[-1], o.probe.mfa)
        for o in mismatches(outcomes)
    }


def mutate(fn: Callable[[dict[str, Any]], None]) -> str:
    """The checked-in policy with one statement-level change applied to every statement."""
    doc = json.loads(SELF_SERVICE.read_text())
    for statement in doc["Statement"]:
        fn(statement)
    return json.dumps(doc)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", "self-service", *args], catch_exceptions=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(text)
    return path


# --- the battery -----------------------------------------------------------------------------


def test_battery_covers_own_others_and_escalation() -> None:
    probes = battery(Target("alice", "111122223333"))
    own = "arn:aws:iam::111122223333:user/alice"
    assert ("iam:ChangePassword", own, "no", True) in {
        (p.action, p.resource, p.mfa, p.expect_allowed) for p in probes
    }
    key_rows = {
        (p.mfa, p.expect_allowed)
        for p in probes
        if p.action == "iam:CreateAccessKey" and p.resource == own
    }
    assert key_rows == {("yes", True), ("no", False), ("absent", False)}
    others = {p.resource for p in probes if p.reason == "another user"}
    assert "arn:aws:iam::111122223333:user/selfiam-verify-other" in others
    assert "arn:aws:iam::111122223333:user/alice2" in others  # catches ${aws:username}*
    assert all(
        not p.expect_allowed for p in probes if p.reason in ("another user", "escalation path")
    )
    escalated = {p.action for p in probes if not p.expect_allowed}
    assert {p.action for p in PATHS} <= escalated
    relaxed = battery(Target("alice"), require_mfa=False)
    assert all(
        p.expect_allowed
        for p in relaxed
        if p.action == "iam:CreateAccessKey" and p.resource.endswith("user/alice")
    )


def test_one_simulation_per_resource_and_mfa_state() -> None:
    calls: list[tuple[str, int]] = []
    engine = LocalSimulator([SELF_SERVICE.read_text()])

    class Counting:
        def decisions(
            self, actions: Sequence[str], resource: str, context: list[dict[str, Any]]
        ) -> dict[str, str]:
            calls.append((resource, len(actions)))
            return engine.decisions(actions, resource, context)

    probes = battery(Target(MEMBER))
    outcomes = run_battery(probes, Counting(), MEMBER)
    assert [o.probe for o in outcomes] == probes
    assert len(calls) == len({(p.resource, p.mfa) for p in probes})


def test_every_page_of_the_simulator_is_read() -> None:
    """One result a page: the battery still gets every decision, the same as in one page."""
    probes = battery(Target(MEMBER))
    whole = run_battery(probes, LocalSimulator([SELF_SERVICE.read_text()]), MEMBER)
    paged = run_battery(probes, LocalSimulator([SELF_SERVICE.read_text()], page_size=1), MEMBER)
    assert paged == whole
    assert not mismatches(paged)


class _StuckEndpoint:
    """An IAM endpoint whose pages never end: IsTruncated with the same Marker again."""

    def __init__(self) -> None:
        self.calls = 0

    def simulate_custom_policy(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        result = {"EvalActionName": params["ActionNames"][0], "EvalDecision": "allowed"}
        return {"EvaluationResults": [result], "IsTruncated": True, "Marker": "again"}


def test_a_marker_that_does_not_advance_stops_the_run() -> None:
    endpoint = _StuckEndpoint()
    simulator = CustomPolicySimulator(endpoint, ["{}"])
    with pytest.raises(PagingError):
        simulator.decisions(["iam:GetUser"], "*", [])
    assert endpoint.calls == 2


# --- the checked-in policy -------------------------------------------------------------------


def test_checked_in_policy_passes_with_mfa_required() -> None:
    outcomes = verify(SELF_SERVICE.read_text())
    assert failing(outcomes) == set()
    result = run("--policy", str(SELF_SERVICE), "--local")
    assert result.exit_code == 0, result.output
    assert "0 mismatch(es)" in result.output
    assert "iam:CreateAccessKey" in result.output and "explicitDeny" in result.output


def test_policy_without_mfa_fails_only_where_mfa_is_required() -> None:
    """The policy before MFA was required: right with --no-require-mfa, caught without."""
    text = NO_MFA.read_text()
    assert failing(verify(text, require_mfa=False)) == set()
    wrong = failing(verify(text))
    assert wrong
    assert {mfa for _, _, mfa in wrong} == {"no", "absent"}
    assert ("iam:UploadSSHPublicKey", f"user/{MEMBER}", "absent") in wrong
    assert run("--policy", str(NO_MFA), "--local", "--no-require-mfa").exit_code == 0


# --- deliberately broken policies ------------------------------------------------------------


def _rename(statement: dict[str, Any]) -> None:
    actions = statement.get("Action")
    if isinstance(actions, list):
        statement["Action"] = [
            "iam:CreateAccessKeys" if a == "iam:CreateAccessKey" else a for a in actions
        ]


def test_renamed_action_is_caught(tmp_path: Path) -> None:
    text = mutate(_rename)
    assert "iam:CreateAccessKeys" in text
    assert failing(verify(text)) == {("iam:CreateAccessKey", f"user/{MEMBER}", "yes")}
    result = run("--policy", str(write(tmp_path, text)), "--local")
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "1 mismatch(es)" in result.output


def _any_user(statement: dict[str, Any]) -> None:
    resources = statement.get("Resource")
    if isinstance(resources, list):
        statement["Resource"] = [
            r.replace("user/${aws:username}", "user/*").replace("user/*/${aws:username}", "user/*")
            for r in resources
        ]


def test_missing_username_variable_is_caught(tmp_path: Path) -> None:
    text = mutate(_any_user)
    assert "arn:aws:iam::*:user/*" in text
    wrong = failing(verify(text))
    assert ("iam:CreateAccessKey", "user/selfiam-verify-other", "yes") in wrong
    assert ("iam:DeactivateMFADevice", "user/selfiam-verify-other", "yes") in wrong
    assert all(resource != f"user/{MEMBER}" for _, resource, _ in wrong)
    assert run("--policy", str(write(tmp_path, text)), "--local").exit_code == 1


def test_trailing_wildcard_after_username_is_caught() -> None:
    def widen(statement: dict[str, Any]) -> None:
        resources = statement.get("Resource")
        if isinstance(resources, list):
            statement["Resource"] = [
                r + "*" if r.endswith("${aws:username}") else r for r in resources
            ]

    wrong = failing(verify(mutate(widen)))
    assert ("iam:CreateAccessKey", f"user/{MEMBER}2", "yes") in wrong
    assert not any(resource == "user/selfiam-verify-other" for _, resource, _ in wrong)


def test_bool_instead_of_bool_if_exists_leaves_long_term_keys_open() -> None:
    def bool_only(statement: dict[str, Any]) -> None:
        condition = statement.get("Condition", {})
        if "BoolIfExists" in condition:
            condition["Bool"] = condition.pop("BoolIfExists")

    text = mutate(bool_only)
    if '"Bool"' not in text:
        pytest.skip("the checked-in policy has no BoolIfExists MFA condition")
    wrong = failing(verify(text))
    assert wrong and {mfa for _, _, mfa in wrong} == {"absent"}


def test_escalation_grant_is_caught() -> None:
    doc = json.loads(SELF_SERVICE.read_text())
    doc["Statement"].append(
        {
            "Sid": "Oops",
            "Effect": "Allow",
            "Action": ["iam:Put*Policy", "iam:PassRole"],
            "Resource": "*",
        }
    )
    wrong = {action for action, _, _ in failing(verify(json.dumps(doc)))}
    assert wrong == {"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:PassRole"}


def test_mfa_required_for_changing_password_is_caught() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:ChangePassword",
                "Resource": "arn:aws:iam::*:user/${aws:username}",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    wrong = failing(verify(json.dumps(doc)))
    assert ("iam:ChangePassword", f"user/{MEMBER}", "no") in wrong
    assert ("iam:ChangePassword", f"user/{MEMBER}", "yes") not in wrong


# --- the command line ------------------------------------------------------------------------


def test_local_needs_a_policy_file() -> None:
    result = CliRunner().invoke(
        cli, ["verify", "self-service", "--local", "--group", "SelfService"]
    )
    assert result.exit_code == 2
    assert "--local evaluates a policy document" in result.output
    result = CliRunner().invoke(cli, ["verify", "self-service", "--group", "G", "--user", "u"])
    assert result.exit_code == 2 and "give one of --group, --user and --policy" in result.output


def test_malformed_policy_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '{"Statement": [}')
    result = CliRunner().invoke(cli, ["verify", "self-service", "--local", "--policy", str(path)])
    assert result.exit_code == 1
    assert "MalformedPolicyDocument: Syntax errors in policy" in result.output


# --- roles -----------------------------------------------------------------------------------


def test_every_role_action_is_probed_on_two_roles() -> None:
    probes = battery(Target("alice", "111122223333"))
    on_roles = {(p.action, p.resource) for p in probes if ":role/" in p.resource}
    roles = ("selfiam-verify-admin", "alice")
    assert on_roles == {
        (a, f"arn:aws:iam::111122223333:role/{r}") for a in ROLE_ACTIONS for r in roles
    }
    assert all(not p.expect_allowed and p.mfa == "yes" for p in probes if ":role/" in p.resource)
    # every escalation path aimed at a role is among them, each probed once per role
    assert {p.action for p in PATHS if p.target == "role"} <= set(ROLE_ACTIONS)
    assert len(on_roles) == len([p for p in probes if ":role/" in p.resource])


@pytest.mark.parametrize(
    ("action", "resource", "caught_on"),
    [
        # a role "for" each member: still a role they are not meant to assume
        ("sts:AssumeRole", "arn:aws:iam::*:role/${aws:username}", {MEMBER}),
        ("sts:AssumeRole", "arn:aws:iam::*:role/*", {MEMBER, "selfiam-verify-admin"}),
        ("iam:CreateRole", "*", {MEMBER, "selfiam-verify-admin"}),
        ("iam:UpdateAssumeRolePolicy", "arn:aws:iam::*:role/*-admin", {"selfiam-verify-admin"}),
        ("iam:DeleteRolePermissionsBoundary", "*", {MEMBER, "selfiam-verify-admin"}),
    ],
)
def test_a_role_grant_is_caught(action: str, resource: str, caught_on: set[str]) -> None:
    doc = json.loads(SELF_SERVICE.read_text())
    doc["Statement"].append({"Effect": "Allow", "Action": action, "Resource": resource})
    wrong = failing(verify(json.dumps(doc)))
    assert wrong == {(action, f"role/{role}", "yes") for role in caught_on}


def test_live_needs_a_selfiam_endpoint_and_a_group(tmp_path: Path) -> None:
    path = write(tmp_path, SELF_SERVICE.read_text())
    for args in (
        ["--live"],
        ["--live", "--endpoint-url", "https://iam.amazonaws.com"],
        ["--live", "--endpoint-url", "http://127.0.0.1:1", "--user", "u"],
        ["--live", "--policy", str(path), "--local"],
    ):
        result = CliRunner().invoke(cli, ["verify", "self-service", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "--live makes real requests to a selfiam server" in result.output
