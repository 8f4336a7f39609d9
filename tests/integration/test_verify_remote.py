"""``selfiam verify self-service`` against a live selfiam server, over HTTP with boto3.

The command talks to the endpoint exactly as it would to AWS: SimulateCustomPolicy for a
group's fetched documents and for a policy file, SimulatePrincipalPolicy for a user.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from selfiam.cli.main import cli
from support.server import LiveServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SELF_SERVICE = ROOT / "src/selfiam/domain/policies/self_service_credentials.json"


def run(server: LiveServer, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AWS_")}
    env.update((k, v) for k, v in server.cli_env().items() if k.startswith("AWS_"))
    return CliRunner().invoke(
        cli,
        ["verify", "self-service", "--endpoint-url", server.endpoint, *args],
        env=env,
        catch_exceptions=False,
    )


def broken(old: str, new: str) -> str:
    text = SELF_SERVICE.read_text()
    assert old in text
    return text.replace(old, new)


def test_selfservice_group_passes(sqlite_server: LiveServer) -> None:
    result = run(sqlite_server, "--group", "SelfService")
    assert result.exit_code == 0, result.output
    assert "0 mismatch(es)" in result.output
    assert f"arn:aws:iam::{sqlite_server.account_id}:user/selfiam-verify-member" in result.output


def test_member_passes_through_simulate_principal_policy(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    admin.create_user(UserName="verified-carol")
    admin.add_user_to_group(GroupName="SelfService", UserName="verified-carol")
    result = run(sqlite_server, "--user", "verified-carol")
    assert result.exit_code == 0, result.output
    assert "user/verified-carol" in result.output


def test_user_outside_the_group_fails(sqlite_server: LiveServer) -> None:
    sqlite_server.client().create_user(UserName="verified-dave")
    result = run(sqlite_server, "--user", "verified-dave")
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


def test_broken_group_policy_is_caught(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    admin.create_group(GroupName="BrokenSelfService")
    admin.put_group_policy(
        GroupName="BrokenSelfService",
        PolicyName="Renamed",
        PolicyDocument=broken('"iam:CreateAccessKey"', '"iam:CreateAccessKeys"'),
    )
    result = run(sqlite_server, "--group", "BrokenSelfService")
    assert result.exit_code == 1
    assert "iam:CreateAccessKey" in result.output and "1 mismatch(es)" in result.output


def test_policy_file_without_username_is_caught(sqlite_server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "any-user.json"
    doc = json.loads(SELF_SERVICE.read_text())
    for statement in doc["Statement"]:
        if isinstance(statement.get("Resource"), list):
            statement["Resource"] = ["arn:aws:iam::*:user/*"]
    path.write_text(json.dumps(doc))
    result = run(sqlite_server, "--policy", str(path))
    assert result.exit_code == 1
    assert "user/selfiam-verify-other" in result.output and "MISMATCH" in result.output
    assert run(sqlite_server, "--policy", str(SELF_SERVICE)).exit_code == 0


def test_unknown_group_and_user(sqlite_server: LiveServer) -> None:
    result = run(sqlite_server, "--group", "NoSuchGroup")
    assert result.exit_code == 1
    assert "GetGroup: NoSuchEntity:" in result.output
    result = run(sqlite_server, "--user", "nobody-here")
    assert result.exit_code == 1 and "GetUser: NoSuchEntity:" in result.output


def test_paged_answers_are_followed_on_a_live_endpoint(sqlite_server: LiveServer) -> None:
    """Two results a page: both simulators follow Marker / IsTruncated to the same answers."""
    from selfiam.tooling.verify import (
        CustomPolicySimulator,
        PrincipalSimulator,
        Target,
        battery,
        mismatches,
        run_battery,
    )

    admin = sqlite_server.client()
    admin.create_user(UserName="verified-paged")
    admin.add_user_to_group(GroupName="SelfService", UserName="verified-paged")
    target = Target("verified-paged", account=sqlite_server.account_id)
    probes = battery(target)
    arn = target.user_arn
    for simulator, paged in (
        (PrincipalSimulator(admin, arn), PrincipalSimulator(admin, arn, page_size=2)),
        (
            CustomPolicySimulator(admin, [SELF_SERVICE.read_text()]),
            CustomPolicySimulator(admin, [SELF_SERVICE.read_text()], page_size=2),
        ),
    ):
        whole = run_battery(probes, simulator, target.member)
        assert run_battery(probes, paged, target.member) == whole
        assert not mismatches(whole)


def _leftovers(server: LiveServer) -> list[str]:
    admin = server.client()
    users = [u["UserName"] for u in admin.list_users()["Users"]]
    roles = [r["RoleName"] for r in admin.list_roles()["Roles"]]
    return [name for name in users + roles if name.startswith("selfiam-verify-live")]


def test_live_assume_role_is_denied_and_leaves_nothing(sqlite_server: LiveServer) -> None:
    result = run(sqlite_server, "--group", "SelfService", "--live")
    assert result.exit_code == 0, result.output
    live = [line for line in result.output.splitlines() if "selfiam-verify-live" in line]
    assert len(live) == 2, result.output
    assert all("AccessDenied" in line and "ok" in line for line in live), result.output
    assert {line.split("│")[3].strip() for line in live} == {"absent", "yes"}
    assert f"arn:aws:iam::{sqlite_server.account_id}:role/selfiam-verify-member" in result.output
    assert _leftovers(sqlite_server) == []


def test_live_assume_role_catches_a_group_allowed_to_assume_any_role(
    sqlite_server: LiveServer,
) -> None:
    """The simulated probes and the live request both see the grant; the server really
    issued the session, and its role is gone afterwards (the session with it)."""
    admin = sqlite_server.client()
    admin.create_group(GroupName="Assumers")
    admin.put_group_policy(
        GroupName="Assumers",
        PolicyName="self-service",
        PolicyDocument=SELF_SERVICE.read_text(),
    )
    assume_any = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
    admin.put_group_policy(
        GroupName="Assumers",
        PolicyName="assume-any",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [assume_any]}),
    )
    result = run(sqlite_server, "--group", "Assumers", "--live")
    assert result.exit_code == 1
    live = [line for line in result.output.splitlines() if "selfiam-verify-live" in line]
    by_mfa = {line.split("│")[3].strip(): line for line in live}
    assert set(by_mfa) == {"absent", "yes"}, result.output
    assert "allowed" in by_mfa["yes"] and "MISMATCH" in by_mfa["yes"]
    # without MFA the self-service policy's own Deny refuses it
    assert "AccessDenied" in by_mfa["absent"] and "MISMATCH" not in by_mfa["absent"]
    assert "3 mismatch(es)" in result.output  # two simulated roles, the MFA session
    assert _leftovers(sqlite_server) == []
