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
