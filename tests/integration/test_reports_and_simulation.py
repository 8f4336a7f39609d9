"""Credential reports and the policy simulator through boto3 over HTTP against a live server."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow


def test_generate_and_get_credential_report(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    acct = sqlite_server.account_id
    admin.create_user(UserName="report-user")
    admin.create_access_key(UserName="report-user")

    with pytest.raises(admin.exceptions.CredentialReportNotPresentException) as missing:
        admin.get_credential_report()
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    started = admin.generate_credential_report()
    assert started["State"] == "STARTED"
    # Built in the background: INPROGRESS (and ReportInProgress) until it is stored.
    for _ in range(3000):
        state = admin.generate_credential_report()["State"]
        if state == "COMPLETE":
            break
        assert state == "INPROGRESS"
        time.sleep(0.01)
    assert admin.generate_credential_report()["State"] == "COMPLETE"

    report = admin.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    assert report["GeneratedTime"].tzinfo is not None
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode("utf-8"))))
    assert rows[0]["user"] == "<root_account>"
    assert rows[0]["arn"] == f"arn:aws:iam::{acct}:root"
    users = {row["user"]: row for row in rows[1:]}
    assert {"admin", "report-user"} <= set(users)
    row = users["report-user"]
    assert row["arn"] == f"arn:aws:iam::{acct}:user/report-user"
    assert row["password_enabled"] == "false"
    assert row["access_key_1_active"] == "true"
    assert row["access_key_1_last_used_date"] == "N/A"
    assert row["access_key_2_active"] == "false"


def _self_service_user(sqlite_server: LiveServer, name: str) -> None:
    admin = sqlite_server.client()
    admin.create_user(UserName=name)
    admin.add_user_to_group(GroupName="SelfService", UserName=name)


def test_simulate_principal_policy_for_a_user(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    acct = sqlite_server.account_id
    _self_service_user(sqlite_server, "sim-alice")
    alice = f"arn:aws:iam::{acct}:user/sim-alice"
    bob = f"arn:aws:iam::{acct}:user/admin"
    policy = f"arn:aws:iam::{acct}:policy/SelfServiceCredentials"

    def decisions(mfa: bool) -> dict[tuple[str, str], str]:
        entries = [
            {"ContextKeyName": "aws:username", "ContextKeyValues": ["sim-alice"],
             "ContextKeyType": "string"},
        ]  # fmt: skip
        if mfa:
            entries.append(
                {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"],
                 "ContextKeyType": "boolean"}
            )  # fmt: skip
        response = admin.simulate_principal_policy(
            PolicySourceArn=alice,
            ActionNames=["iam:CreateAccessKey", "iam:ListUsers", "iam:DeleteUser"],
            ResourceArns=[alice, bob],
            ContextEntries=entries,
        )
        assert response["IsTruncated"] is False
        return {
            (result["EvalActionName"], specific["EvalResourceName"]): specific[
                "EvalResourceDecision"
            ]
            for result in response["EvaluationResults"]
            for specific in result["ResourceSpecificResults"]
        }

    with_mfa = decisions(True)
    assert with_mfa[("iam:CreateAccessKey", alice)] == "allowed"
    assert with_mfa[("iam:CreateAccessKey", bob)] == "implicitDeny"
    assert with_mfa[("iam:ListUsers", alice)] == "allowed"
    assert with_mfa[("iam:DeleteUser", bob)] == "implicitDeny"
    without = decisions(False)
    assert without[("iam:CreateAccessKey", alice)] == "explicitDeny"
    assert without[("iam:ListUsers", alice)] == "allowed"

    one = admin.simulate_principal_policy(
        PolicySourceArn=alice,
        ActionNames=["iam:ListUsers"],
    )["EvaluationResults"][0]
    assert one["EvalDecision"] == "allowed"
    (statement,) = one["MatchedStatements"]
    assert statement["SourcePolicyId"] == policy
    assert statement["SourcePolicyType"] == "user-managed"

    keys = admin.get_context_keys_for_principal_policy(PolicySourceArn=alice)
    assert keys["ContextKeyNames"] == ["aws:MultiFactorAuthPresent", "aws:username"]

    with pytest.raises(ClientError) as ghost:
        admin.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{acct}:user/nobody", ActionNames=["iam:ListUsers"]
        )
    assert ghost.value.response["Error"]["Code"] == "NoSuchEntity"


def test_simulate_custom_policy(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::bucket/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                }
            ],
        }
    )
    response = admin.simulate_custom_policy(
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:SourceIp",
                "ContextKeyValues": ["10.0.0.1"],
                "ContextKeyType": "ip",
            },
        ],  # fmt: skip
        MaxItems=1,
    )
    assert response["IsTruncated"] is True
    (get,) = response["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    rest = admin.simulate_custom_policy(
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
        Marker=response["Marker"],
    )
    assert [r["EvalDecision"] for r in rest["EvaluationResults"]] == ["implicitDeny"]
    keys = admin.get_context_keys_for_custom_policy(PolicyInputList=[policy])
    assert keys["ContextKeyNames"] == ["aws:SourceIp"]

    with pytest.raises(ClientError) as malformed:
        admin.simulate_custom_policy(PolicyInputList=["{"], ActionNames=["s3:GetObject"])
    assert malformed.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_simulator_paginators_return_every_action_once_in_order(sqlite_server: LiveServer) -> None:
    """boto3's paginators follow Marker/IsTruncated: every action exactly once, in order,
    each with every resource in ResourceSpecificResults, whatever the page size."""
    admin = sqlite_server.client()
    acct = sqlite_server.account_id
    _self_service_user(sqlite_server, "sim-pager")
    pager = f"arn:aws:iam::{acct}:user/sim-pager"
    actions = [f"iam:Action{i}" for i in range(30)] + ["iam:ListUsers", "iam:CreateAccessKey"]
    resources = [f"arn:aws:iam::{acct}:user/u{i}" for i in range(40)] + [pager]
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*",
                                                  "Resource": "*"}]}
    )  # fmt: skip
    calls = {
        "simulate_custom_policy": {"PolicyInputList": [policy]},
        "simulate_principal_policy": {"PolicySourceArn": pager},
    }
    rank = ["allowed", "implicitDeny", "explicitDeny"].index
    for operation, extra in calls.items():
        for page_size in (1000, 5):
            pages = list(
                admin.get_paginator(operation).paginate(
                    ActionNames=actions,
                    ResourceArns=resources,
                    PaginationConfig={"PageSize": page_size},
                    **extra,
                )
            )
            sizes = [len(p["EvaluationResults"]) for p in pages]
            assert max(sizes) <= page_size and sum(sizes) == len(actions) == 32
            results = [r for p in pages for r in p["EvaluationResults"]]
            assert [r["EvalActionName"] for r in results] == actions
            decided = {}
            for result in results:
                specific = result["ResourceSpecificResults"]
                assert [s["EvalResourceName"] for s in specific] == resources
                own = [s["EvalResourceDecision"] for s in specific]
                assert result["EvalDecision"] == max(own, key=rank)
                decided.update(
                    {(result["EvalActionName"], s["EvalResourceName"]): s["EvalResourceDecision"]
                     for s in specific}
                )  # fmt: skip
            assert decided[("iam:ListUsers", pager)] == "allowed"
            assert decided[("iam:Action0", pager)] != "allowed"
    first = admin.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=actions, ResourceArns=resources, MaxItems=10
    )
    assert len(first["EvaluationResults"]) == 10 and first["IsTruncated"] is True
    listed = first["EvaluationResults"][1]
    assert (listed["EvalActionName"], listed["EvalDecision"]) == ("iam:Action1", "implicitDeny")

    with pytest.raises(ClientError) as invalid:
        admin.simulate_custom_policy(
            PolicyInputList=[policy], ActionNames=actions, Marker="not-a-marker"
        )
    assert invalid.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Invalid Marker.",
        "Type": "Sender",
    }
    with pytest.raises(ClientError) as other:  # a Marker of other ActionNames
        admin.simulate_custom_policy(
            PolicyInputList=[policy], ActionNames=actions[:5], Marker=first["Marker"]
        )
    assert other.value.response["Error"]["Code"] == "ValidationError"
