"""``selfiam policy simulate`` / ``validate``, and the SimulateCustomPolicy function behind them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.policy import MalformedPolicyError
from selfiam.service.simulate import context_keys_for_custom_policy, simulate_custom_policy

ROOT = Path(__file__).resolve().parents[2]
SELF_SERVICE = (ROOT / "src/selfiam/domain/policies/self_service_credentials.json").read_text()
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def username(name: str) -> dict[str, Any]:
    return {
        "ContextKeyName": "aws:username",
        "ContextKeyValues": [name],
        "ContextKeyType": "string",
    }


def run(args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)


def simulate_cli(request: Any, tmp_path: Path) -> Any:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(request))
    return run(["policy", "simulate", "--input", str(path), "--now", "2026-11-27T10:00:00Z"])


def decisions(response: dict[str, Any]) -> list[str]:
    return [r["EvalDecision"] for r in response["EvaluationResults"]]


# --- the CLI ---------------------------------------------------------------------------------


def test_single_request_prints_boto3_response(tmp_path: Path) -> None:
    policy = doc(allow("s3:*"))
    request = {"PolicyInputList": [policy], "ActionNames": ["s3:GetObject", "iam:ListUsers"]}
    result = simulate_cli(request, tmp_path)
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert set(response) == {"EvaluationResults", "IsTruncated"}
    assert decisions(response) == ["allowed", "implicitDeny"]
    first = response["EvaluationResults"][0]
    assert first["EvalResourceName"] == "*"
    assert first["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    # 1-based line and column of the statement's opening and closing braces
    assert first["MatchedStatements"][0]["StartPosition"] == {
        "Line": 1,
        "Column": policy.index("[{") + 2,
    }
    assert first["MatchedStatements"][0]["EndPosition"] == {
        "Line": 1,
        "Column": policy.index("}]") + 1,
    }
    assert "EvalDecisionDetails" not in first  # AWS omits it for the resource "*"


def test_stdin_input() -> None:
    request = {"PolicyInputList": [doc(allow("iam:Get*"))], "ActionNames": ["iam:GetUser"]}
    result = run(["policy", "simulate", "--input", "-"], stdin=json.dumps(request))
    assert result.exit_code == 0, result.output
    assert decisions(json.loads(result.stdout)) == ["allowed"]


def test_single_malformed_request_exits_1_with_message_on_stderr(tmp_path: Path) -> None:
    bad = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    )
    result = simulate_cli({"PolicyInputList": [bad], "ActionNames": ["s3:GetObject"]}, tmp_path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "MalformedPolicyDocument: Policy statement must contain resources"
    )


def test_input_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text("{nope")
    result = run(["policy", "simulate", "--input", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("ValidationError: the input is not JSON")


def _mixed_batch(n: int) -> tuple[list[dict[str, Any]], list[str]]:
    """n requests cycling through allowed / explicitDeny / implicitDeny / malformed / invalid."""
    policy = doc(
        allow("s3:*", "arn:aws:s3:::data/*"),
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    )
    malformed = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}'
    cases = [
        ({"ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::data/{i}"]}, "allowed"),
        (
            {"ActionNames": ["s3:DeleteObject"], "ResourceArns": ["arn:aws:s3:::data/{i}"]},
            "explicitDeny",
        ),
        (
            {"ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::other/{i}"]},
            "implicitDeny",
        ),
        (
            {"ActionNames": ["s3:GetObject"], "PolicyInputList": [malformed]},
            "MalformedPolicyDocument",
        ),
        ({"PolicyInputList": [policy]}, "ValidationError"),
    ]
    requests, expected = [], []
    for i in range(n):
        template, outcome = cases[i % len(cases)]
        request = {
            "PolicyInputList": [policy],
            **json.loads(json.dumps(template).replace("{i}", str(i))),
        }
        requests.append(request)
        expected.append(outcome)
    return requests, expected


def _outcome(response: dict[str, Any]) -> str:
    if "Error" in response:
        return str(response["Error"]["Code"])
    (only,) = decisions(response)
    return only


def test_array_of_1000_mixed_requests(tmp_path: Path) -> None:
    requests, expected = _mixed_batch(1000)
    result = simulate_cli(requests, tmp_path)
    assert result.exit_code == 0, result.output[:500]
    responses = json.loads(result.stdout)
    assert len(responses) == 1000
    assert [_outcome(r) for r in responses] == expected
    malformed = responses[3]["Error"]["Message"]
    assert "Policy statement must contain actions" in malformed
    assert "actionNames" in responses[4]["Error"]["Message"]


def test_subprocess_batch_on_stdin() -> None:
    requests, expected = _mixed_batch(200)
    proc = subprocess.run(
        [sys.executable, "-m", "selfiam.cli", "policy", "simulate", "--input", "-"],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [_outcome(r) for r in json.loads(proc.stdout)] == expected


def test_empty_array(tmp_path: Path) -> None:
    result = simulate_cli([], tmp_path)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


# --- validate --------------------------------------------------------------------------------


def test_validate_ok(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(SELF_SERVICE)
    result = run(["policy", "validate", str(path), "--kind", "inline-user"])
    assert (result.exit_code, result.stdout) == (0, "OK\n")


def test_validate_malformed_names_the_statement(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(doc(allow("s3:*"), {"Sid": "X", "Effect": "Allow", "Resource": "*"}))
    result = run(["policy", "validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("MalformedPolicyDocument: ")
    assert "statement 2" in result.stderr and "X" in result.stderr


def test_validate_kind_decides_principal(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*")))
    assert run(["policy", "validate", str(path), "--kind", "resource"]).exit_code == 0
    managed = run(["policy", "validate", str(path)])
    assert managed.exit_code == 1
    assert "should not specify a principal" in managed.stderr


def test_validate_managed_needs_the_current_version(tmp_path: Path) -> None:
    """CreatePolicy's rule (issue 15); inline policies keep a missing Version."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"Statement": [allow("s3:*")]}))
    managed = run(["policy", "validate", str(path)])
    assert managed.exit_code == 1
    assert managed.stderr.startswith(
        "MalformedPolicyDocument: Policy document must be version 2012-10-17 or greater. "
        "The document has no Version"
    )
    assert run(["policy", "validate", str(path), "--kind", "inline-user"]).exit_code == 0


def test_validate_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    actions = [f"s3:Action{i:04d}" for i in range(300)]
    path.write_text(doc(allow(actions)))
    result = run(["policy", "validate", str(path), "--kind", "inline-user"])
    assert result.exit_code == 1
    assert result.stderr.startswith("LimitExceeded: Cannot exceed quota for PolicySize: 2048")
    assert run(["policy", "validate", str(path), "--kind", "inline-role"]).exit_code == 0


# The self-service policy lets a user manage their own credentials only with MFA.
MFA_PRESENT = {
    "ContextKeyName": "aws:MultiFactorAuthPresent",
    "ContextKeyValues": ["true"],
    "ContextKeyType": "boolean",
}


def test_validate_stdin() -> None:
    result = run(["policy", "validate", "-"], stdin=doc(allow("s3:*")))
    assert (result.exit_code, result.stdout) == (0, "OK\n")


# --- the simulation itself -------------------------------------------------------------------


def test_self_service_alice_manages_her_own_key_not_bobs(tmp_path: Path) -> None:
    request = {
        "PolicyInputList": [SELF_SERVICE],
        "ActionNames": ["iam:CreateAccessKey", "iam:DeleteUser", "iam:ListUsers"],
        "ResourceArns": [ALICE, BOB],
        "ContextEntries": [username("alice"), MFA_PRESENT],
    }
    result = simulate_cli(request, tmp_path)
    assert result.exit_code == 0, result.output
    create, delete, list_users = json.loads(result.stdout)["EvaluationResults"]
    per_resource = {
        r["EvalResourceName"]: r["EvalResourceDecision"] for r in create["ResourceSpecificResults"]
    }
    assert per_resource == {ALICE: "allowed", BOB: "implicitDeny"}
    assert create["EvalDecision"] == "implicitDeny"  # the most restrictive over the resources
    assert delete["EvalDecision"] == "implicitDeny"
    assert list_users["EvalDecision"] == "allowed"
    own = create["ResourceSpecificResults"][0]["MatchedStatements"]
    assert [m["SourcePolicyId"] for m in own] == ["PolicyInputList.1"]


@pytest.mark.parametrize(
    ("user", "resource", "decision"),
    [("alice", ALICE, "allowed"), ("alice", BOB, "implicitDeny"), ("bob", BOB, "allowed")],
)
def test_self_service_one_resource(user: str, resource: str, decision: str) -> None:
    response = simulate_custom_policy(
        {
            "PolicyInputList": [SELF_SERVICE],
            "ActionNames": ["iam:CreateAccessKey"],
            "ResourceArns": [resource],
            "ContextEntries": [username(user), MFA_PRESENT],
        },
        now=NOW,
    )
    (result,) = response["EvaluationResults"]
    assert (result["EvalResourceName"], result["EvalDecision"]) == (resource, decision)


def test_missing_context_values_are_reported() -> None:
    policy = doc(
        allow("iam:CreateAccessKey", "arn:aws:iam::*:user/${aws:username}"),
        allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )
    response = simulate_custom_policy(
        {
            "PolicyInputList": [policy],
            "ActionNames": ["iam:CreateAccessKey", "s3:GetObject"],
            "ResourceArns": [ALICE],
        },
        now=NOW,
    )
    create, get = response["EvaluationResults"]
    assert create["EvalDecision"] == "implicitDeny"
    assert create["MissingContextValues"] == ["aws:username"]
    assert create["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:username"]
    assert get["MissingContextValues"] == ["aws:SourceIp"]


def test_context_entry_types() -> None:
    policy = doc(
        allow(
            "s3:GetObject",
            Condition={
                "Bool": {"aws:SecureTransport": "true"},
                "NumericLessThan": {"s3:max-keys": "10"},
                "ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            },
        )
    )
    entries = [
        {
            "ContextKeyName": "aws:SecureTransport",
            "ContextKeyValues": ["TRUE"],
            "ContextKeyType": "boolean",
        },
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["5"], "ContextKeyType": "numeric"},
        {
            "ContextKeyName": "aws:TagKeys",
            "ContextKeyValues": ["owner", "team"],
            "ContextKeyType": "stringList",
        },
        {
            "ContextKeyName": "aws:SourceIp",
            "ContextKeyValues": ["10.1.2.3"],
            "ContextKeyType": "ip",
        },
    ]
    params = {
        "PolicyInputList": [policy],
        "ActionNames": ["s3:GetObject"],
        "ContextEntries": entries,
    }
    assert decisions(simulate_custom_policy(params, now=NOW)) == ["allowed"]
    # aws:CurrentTime comes from `now` unless given
    late = datetime(2031, 1, 1, tzinfo=UTC)
    assert decisions(simulate_custom_policy(params, now=late)) == ["implicitDeny"]
    given = {
        "ContextKeyName": "aws:CurrentTime",
        "ContextKeyValues": ["2029-01-01T00:00:00Z"],
        "ContextKeyType": "date",
    }
    params_given = {**params, "ContextEntries": [*entries, given]}
    assert decisions(simulate_custom_policy(params_given, now=late)) == ["allowed"]


def test_permissions_boundary() -> None:
    params = {
        "PolicyInputList": [doc(allow(["s3:*", "iam:*"]))],
        "PermissionsBoundaryPolicyInputList": [doc(allow("s3:*"))],
        "ActionNames": ["s3:GetObject", "iam:CreateUser"],
    }
    get, create = simulate_custom_policy(params, now=NOW)["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert {m["SourcePolicyId"] for m in get["MatchedStatements"]} == {
        "PolicyInputList.1",
        "PermissionsBoundaryPolicyInputList.1",
    }
    assert create["EvalDecision"] == "implicitDeny"
    assert create["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_resource_policy_grants_the_caller() -> None:
    bucket_policy = doc(
        {
            "Sid": "ReadForAlice",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::reports/*",
        }
    )
    params = {
        "PolicyInputList": [doc(allow("iam:GetUser"))],
        "ResourcePolicy": bucket_policy,
        "CallerArn": ALICE,
        "ResourceOwner": "arn:aws:iam::123456789012:root",
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
    }
    get, put = simulate_custom_policy(params, now=NOW)["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert get["MatchedStatements"][0]["SourcePolicyType"] == "Resource Policy"
    assert get["EvalDecisionDetails"] == {}  # same account
    assert put["EvalDecision"] == "implicitDeny"
    # Bob is not named: nothing allows him.
    bob = simulate_custom_policy({**params, "CallerArn": BOB}, now=NOW)
    assert decisions(bob) == ["implicitDeny", "implicitDeny"]


def test_cross_account_needs_both_sides() -> None:
    caller = "arn:aws:iam::111111111111:user/carol"
    bucket_policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "111111111111"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/*",
        }
    )
    params = {
        "PolicyInputList": [doc(allow("s3:GetObject"))],
        "ResourcePolicy": bucket_policy,
        "CallerArn": caller,
        "ResourceOwner": "arn:aws:iam::222222222222:root",
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::shared/a"],
    }
    (result,) = simulate_custom_policy(params, now=NOW)["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "allowed"}
    no_identity = {**params, "PolicyInputList": [doc(allow("iam:GetUser"))]}
    (result,) = simulate_custom_policy(no_identity, now=NOW)["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["EvalDecisionDetails"] == {
        "IAM Policy": "implicitDeny",
        "Resource Policy": "allowed",
    }


def test_trust_policy_as_resource_policy() -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    params = {
        "PolicyInputList": [doc(allow("iam:GetUser"))],
        "ResourcePolicy": trust,
        "CallerArn": ALICE,
        "ActionNames": ["sts:AssumeRole"],
        "ResourceArns": ["arn:aws:iam::123456789012:role/deploy"],
    }
    assert decisions(simulate_custom_policy(params, now=NOW)) == ["allowed"]


def test_explicit_deny_matches_only_the_deny() -> None:
    policy = doc(allow("s3:*"), {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})
    (result,) = simulate_custom_policy(
        {"PolicyInputList": [policy], "ActionNames": ["s3:DeleteBucket"]}, now=NOW
    )["EvaluationResults"]
    assert result["EvalDecision"] == "explicitDeny"
    assert len(result["MatchedStatements"]) == 1


def test_pagination() -> None:
    actions = [f"s3:Action{i}" for i in range(5)]
    params: dict[str, Any] = {
        "PolicyInputList": [doc(allow("s3:*"))],
        "ActionNames": actions,
        "MaxItems": 2,
    }
    seen: list[str] = []
    while True:
        page = simulate_custom_policy(params, now=NOW)
        seen.extend(r["EvalActionName"] for r in page["EvaluationResults"])
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        params["Marker"] = page["Marker"]
    assert seen == actions


def test_bad_input() -> None:
    from selfiam.domain.errors import InvalidInput, ValidationError

    policy = doc(allow("s3:*"))
    with pytest.raises(ValidationError, match="actionNames"):
        simulate_custom_policy({"PolicyInputList": [policy]}, now=NOW)
    with pytest.raises(ValidationError, match="Unknown parameter"):
        simulate_custom_policy(
            {"PolicyInputList": [policy], "ActionNames": ["s3:GetObject"], "Bogus": 1}, now=NOW
        )
    with pytest.raises(InvalidInput, match="wildcards"):
        simulate_custom_policy({"PolicyInputList": [policy], "ActionNames": ["s3:*"]}, now=NOW)
    with pytest.raises(InvalidInput, match="CallerArn"):
        simulate_custom_policy(
            {
                "PolicyInputList": [policy],
                "ActionNames": ["s3:GetObject"],
                "ResourcePolicy": policy,
            },
            now=NOW,
        )
    with pytest.raises(MalformedPolicyError):
        simulate_custom_policy(
            {"PolicyInputList": ["[]"], "ActionNames": ["s3:GetObject"]}, now=NOW
        )


def test_context_keys_for_custom_policy() -> None:
    policy = doc(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    keys = context_keys_for_custom_policy({"PolicyInputList": [SELF_SERVICE, policy]})
    assert keys == {
        "ContextKeyNames": ["aws:MultiFactorAuthPresent", "aws:SourceIp", "aws:username"]
    }


# --- the response shape is botocore's --------------------------------------------------------


def _check_shape(value: Any, shape: Any, where: str) -> None:
    """Every key emitted exists in the model shape, with the model's type."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        for key, item in value.items():
            assert key in shape.members, f"{where}.{key} is not in {shape.name}"
            _check_shape(item, shape.members[key], f"{where}.{key}")
        for required in shape.required_members:
            assert required in value, f"{where} lacks {required}"
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), where
        for key, item in value.items():
            _check_shape(key, shape.key, f"{where} key")
            _check_shape(item, shape.value, f"{where}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), where
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    else:  # pragma: no cover
        raise AssertionError(f"{where}: unexpected shape type {kind}")


def test_every_emitted_key_is_in_botocore_output_shape() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    output = model.operation_model("SimulateCustomPolicy").output_shape
    cross = {
        "PolicyInputList": [
            doc(
                allow(["s3:*", "iam:*"]),
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
            )
        ],
        "PermissionsBoundaryPolicyInputList": [doc(allow("s3:*"))],
        "ResourcePolicy": doc(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
        ),
        "CallerArn": "arn:aws:iam::111111111111:user/carol",
        "ResourceOwner": "arn:aws:iam::222222222222:root",
        "ActionNames": ["s3:GetObject", "s3:DeleteBucket", "iam:CreateUser"],
        "ResourceArns": ["arn:aws:s3:::a/b", "arn:aws:s3:::c"],
        "ContextEntries": [username("carol")],
        "MaxItems": 2,
    }
    plain = {
        "PolicyInputList": [SELF_SERVICE],
        "ActionNames": ["iam:ListUsers", "iam:CreateAccessKey"],
    }
    for params in (cross, plain):
        response = simulate_custom_policy(params, now=NOW)
        _check_shape(response, output, "SimulateCustomPolicy")
    keys_output = model.operation_model("GetContextKeysForCustomPolicy").output_shape
    _check_shape(
        context_keys_for_custom_policy({"PolicyInputList": [SELF_SERVICE]}), keys_output, "keys"
    )


# --- every result, one at a time -------------------------------------------------------------


def test_cli_prints_every_result_of_a_long_request(tmp_path: Path) -> None:
    """Past the API's pages (MaxItems defaults to 100): the CLI prints all 300 actions, each
    with its 50 resources."""
    actions = [f"s3:Action{i}" for i in range(300)]
    resources = [f"arn:aws:s3:::bucket/k{i}" for i in range(50)]
    request = {"PolicyInputList": [doc(allow("s3:*"))], "ActionNames": actions,
               "ResourceArns": resources}  # fmt: skip
    result = simulate_cli(request, tmp_path)
    assert result.exit_code == 0, result.output[:500]
    response = json.loads(result.stdout)
    assert response["IsTruncated"] is False and "Marker" not in response
    results = response["EvaluationResults"]
    assert [r["EvalActionName"] for r in results] == actions
    for result_of_action in results:
        specific = result_of_action["ResourceSpecificResults"]
        assert [s["EvalResourceName"] for s in specific] == resources
    batch = simulate_cli([request, {"PolicyInputList": [doc(allow("s3:*"))]}], tmp_path)
    whole, bad = json.loads(batch.stdout)
    assert whole == response
    assert bad["Error"]["Code"] == "ValidationError"


def test_cli_gives_the_page_asked_for(tmp_path: Path) -> None:
    request = {"PolicyInputList": [doc(allow("s3:*"))], "ActionNames": ["s3:A", "s3:B", "s3:C"],
               "MaxItems": 2}  # fmt: skip
    first = json.loads(simulate_cli(request, tmp_path).stdout)
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == ["s3:A", "s3:B"]
    assert first["IsTruncated"] is True
    rest = json.loads(simulate_cli({**request, "Marker": first["Marker"]}, tmp_path).stdout)
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == ["s3:C"]


def test_results_are_computed_as_they_are_taken() -> None:
    from selfiam.service import simulate as simulator
    from selfiam.service.simulate import custom_policy_results

    request = {"PolicyInputList": [doc(allow("s3:*"))],
               "ActionNames": [f"s3:Action{i}" for i in range(1000)],
               "ResourceArns": [f"arn:aws:s3:::b/{i}" for i in range(1000)]}  # fmt: skip
    before = simulator.evaluations.value
    results = custom_policy_results(request, now=NOW)
    assert simulator.evaluations.value == before
    first = next(results)
    assert first["EvalActionName"] == "s3:Action0"
    assert len(first["ResourceSpecificResults"]) == 1000
    assert simulator.evaluations.value == before + 1000  # one action's resources, no more
    with pytest.raises(MalformedPolicyError):  # the request is checked before any result
        custom_policy_results({"PolicyInputList": ["{"], "ActionNames": ["s3:A"]}, now=NOW)
