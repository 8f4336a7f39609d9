"""The policy simulator operations, checked against what the authorizer really decides."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call

from selfiam.domain.errors import (
    AccessDenied,
    InvalidInput,
    MalformedPolicyDocument,
    NoSuchEntity,
    ValidationError,
)
from selfiam.service.bootstrap import self_service_policy_document
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

CallerFor = Callable[[str], Caller]

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
GROUP = f"arn:aws:iam::{ACCOUNT}:group/SelfService"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/SelfServiceCredentials"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def doc(action: str, resource: str = "*", **extra: Any) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def entry(name: str, *values: str, kind: str = "string") -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": list(values), "ContextKeyType": kind}


def context_of(user: str, mfa: bool) -> list[dict[str, Any]]:
    """What the authorizer puts in the context for this caller (the keys the policy reads)."""
    entries = [entry("aws:username", user)]
    if mfa:
        entries += [
            entry("aws:MultiFactorAuthPresent", "true", kind="boolean"),
            entry("aws:MultiFactorAuthAge", "60", kind="numeric"),
        ]
    return entries


@pytest.fixture
def self_service(call: Call) -> None:
    for name in ("alice", "bob"):
        call("CreateUser", UserName=name)
    call("CreateGroup", GroupName="SelfService")
    call(
        "CreatePolicy",
        PolicyName="SelfServiceCredentials",
        PolicyDocument=self_service_policy_document(),
    )
    call("AttachGroupPolicy", GroupName="SelfService", PolicyArn=POLICY)
    call("AddUserToGroup", GroupName="SelfService", UserName="alice")


def with_mfa(caller: Caller, runtime: Runtime) -> Caller:
    return replace(
        caller,
        access_key_id="ASIATESTTESTTESTTEST",
        session_token_id="session-1",
        mfa_authenticated_at=runtime.clock() - timedelta(seconds=60),
    )


def real_decision(call: Call, caller: Caller, operation: str, params: dict[str, Any]) -> str:
    """What Runtime.invoke decides, read from its answer."""
    try:
        call(operation, caller=caller, **params)
    except AccessDenied as denied:
        return "explicitDeny" if "explicit deny" in denied.message else "implicitDeny"
    except NoSuchEntity:
        pass
    return "allowed"


def simulate(call: Call, source: str, action: str, resource: str, **params: Any) -> dict[str, Any]:
    response = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=source,
        ActionNames=[action],
        ResourceArns=[resource],
        **params,
    )
    (result,) = response["EvaluationResults"]
    assert isinstance(result, dict)
    return result


# (operation, params, action, resource)
REQUESTS = [
    ("CreateAccessKey", {"UserName": "alice"}, "iam:CreateAccessKey", ALICE),
    ("CreateAccessKey", {"UserName": "bob"}, "iam:CreateAccessKey", BOB),
    ("GetUser", {"UserName": "bob"}, "iam:GetUser", BOB),
    ("ListUsers", {}, "iam:ListUsers", "*"),
    ("DeleteUser", {"UserName": "bob"}, "iam:DeleteUser", BOB),
    (
        "PutUserPolicy",
        {"UserName": "alice", "PolicyName": "p", "PolicyDocument": doc("*")},
        "iam:PutUserPolicy",
        ALICE,
    ),
    (
        "AddUserToGroup",
        {"GroupName": "SelfService", "UserName": "bob"},
        "iam:AddUserToGroup",
        GROUP,
    ),
    (
        "CreatePolicyVersion",
        {"PolicyArn": POLICY, "PolicyDocument": doc("*")},
        "iam:CreatePolicyVersion",
        POLICY,
    ),
    ("ListAccessKeys", {"UserName": "bob"}, "iam:ListAccessKeys", BOB),
]


@pytest.mark.usefixtures("self_service")
@pytest.mark.parametrize("mfa", [False, True], ids=["long-term key", "MFA session"])
@pytest.mark.parametrize(("operation", "params", "action", "resource"), REQUESTS)
def test_principal_simulation_agrees_with_the_authorizer(
    call: Call,
    caller_for: CallerFor,
    runtime: Runtime,
    mfa: bool,
    operation: str,
    params: dict[str, Any],
    action: str,
    resource: str,
) -> None:
    alice = caller_for("alice")
    if mfa:
        alice = with_mfa(alice, runtime)
    simulated = simulate(call, ALICE, action, resource, ContextEntries=context_of("alice", mfa))
    assert simulated["EvalDecision"] == real_decision(call, alice, operation, params)


@pytest.mark.usefixtures("self_service")
def test_matched_statements_name_the_stored_policies(call: Call) -> None:
    allowed = simulate(
        call, ALICE, "iam:CreateAccessKey", ALICE, ContextEntries=context_of("alice", True)
    )
    assert allowed["EvalDecision"] == "allowed"
    (statement,) = allowed["MatchedStatements"]
    assert (statement["SourcePolicyId"], statement["SourcePolicyType"]) == (POLICY, "user-managed")
    assert statement["StartPosition"]["Line"] > 1

    denied = simulate(
        call, ALICE, "iam:CreateAccessKey", ALICE, ContextEntries=context_of("alice", False)
    )
    assert denied["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyId"] for m in denied["MatchedStatements"]] == [POLICY]

    call("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=doc("s3:GetObject"))
    call("PutGroupPolicy", GroupName="SelfService", PolicyName="team", PolicyDocument=doc("sqs:*"))
    call("AttachGroupPolicy", GroupName="SelfService", PolicyArn=READ_ONLY)
    mfa = context_of("alice", True)
    for action, source in [
        ("s3:GetObject", ("own", "user")),
        ("sqs:SendMessage", ("team", "group")),
        ("iam:GetRole", (READ_ONLY, "aws-managed")),
    ]:
        result = simulate(call, ALICE, action, "*", ContextEntries=mfa)
        assert result["EvalDecision"] == "allowed", action
        sources = {
            (m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]
        }
        assert source in sources, action


@pytest.mark.usefixtures("self_service")
def test_missing_context_values_without_a_username(call: Call) -> None:
    result = simulate(call, ALICE, "iam:CreateAccessKey", ALICE)
    # No context given: the MFA deny applies (BoolIfExists) and the keys it read are missing.
    assert result["EvalDecision"] == "explicitDeny"
    assert "aws:MultiFactorAuthPresent" in result["MissingContextValues"]


@pytest.mark.usefixtures("self_service")
def test_group_simulation(call: Call) -> None:
    mfa = context_of("alice", True)
    assert simulate(call, GROUP, "iam:ListUsers", "*")["EvalDecision"] == "allowed"
    assert (
        simulate(call, GROUP, "iam:CreateAccessKey", ALICE, ContextEntries=mfa)["EvalDecision"]
        == "allowed"
    )
    assert (
        simulate(call, GROUP, "iam:CreateAccessKey", BOB, ContextEntries=mfa)["EvalDecision"]
        == "implicitDeny"
    )
    # A user inline policy of alice is not the group's.
    call("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=doc("s3:GetObject"))
    group = simulate(call, GROUP, "s3:GetObject", "*", ContextEntries=mfa)
    assert group["EvalDecision"] == "implicitDeny"
    user = simulate(call, ALICE, "s3:GetObject", "*", ContextEntries=mfa)
    assert user["EvalDecision"] == "allowed"


@pytest.mark.usefixtures("self_service")
def test_policy_input_list_adds_to_the_stored_policies(call: Call) -> None:
    result = simulate(call, BOB, "s3:GetObject", "*", PolicyInputList=[doc("s3:*")])
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "IAM Policy"
    assert simulate(call, BOB, "s3:GetObject", "*")["EvalDecision"] == "implicitDeny"


@pytest.mark.usefixtures("self_service")
def test_boundary_of_the_user_and_a_replacement(
    call: Call, caller_for: CallerFor, runtime: Runtime
) -> None:
    boundary = call("CreatePolicy", PolicyName="ReadOnlyBoundary", PolicyDocument=doc("iam:Get*"))
    boundary_arn = boundary["Policy"]["Arn"]
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=boundary_arn)
    mfa = context_of("alice", True)
    limited = simulate(call, ALICE, "iam:CreateAccessKey", ALICE, ContextEntries=mfa)
    assert limited["EvalDecision"] == "implicitDeny"
    assert limited["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    alice = with_mfa(caller_for("alice"), runtime)
    assert real_decision(call, alice, "CreateAccessKey", {"UserName": "alice"}) == "implicitDeny"
    assert simulate(call, ALICE, "iam:GetUser", BOB, ContextEntries=mfa)["EvalDecision"] == (
        "allowed"
    )
    # A boundary given as input replaces the stored one.
    replaced = simulate(
        call,
        ALICE,
        "iam:CreateAccessKey",
        ALICE,
        ContextEntries=mfa,
        PermissionsBoundaryPolicyInputList=[doc("iam:*")],
    )
    assert replaced["EvalDecision"] == "allowed"


@pytest.mark.usefixtures("self_service")
def test_policy_exclusion_list(call: Call) -> None:
    mfa = context_of("alice", True)
    call("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=doc("s3:GetObject"))

    def decision(action: str, resource: str, *excluded: dict[str, Any]) -> str:
        result = simulate(
            call, ALICE, action, resource, ContextEntries=mfa, PolicyExclusionList=list(excluded)
        )
        return str(result["EvalDecision"])

    assert decision("iam:CreateAccessKey", ALICE, {"PolicyType": "user-managed"}) == "implicitDeny"
    assert decision("iam:CreateAccessKey", ALICE, {"PolicyType": "aws-managed"}) == "allowed"
    assert decision("iam:CreateAccessKey", ALICE, {"PolicyArn": POLICY[:-5] + "*"}) == (
        "implicitDeny"
    )
    assert decision("s3:GetObject", "*", {"PolicyType": "inline"}) == "implicitDeny"
    inline = {"PolicyName": "own", "AttachmentType": "user", "AttachmentName": "al?ce"}
    assert decision("s3:GetObject", "*", {"InlinePolicyIdentifier": inline}) == "implicitDeny"
    other = {**inline, "AttachmentName": "bob"}
    assert decision("s3:GetObject", "*", {"InlinePolicyIdentifier": other}) == "allowed"
    with pytest.raises(InvalidInput):
        decision("s3:GetObject", "*", {"PolicyArn": "arn:aws:iam::*:policy/x"})
    with pytest.raises(InvalidInput):
        decision("s3:GetObject", "*", {"PolicyArn": "arn:aws:iam::aws:policy/*a*"})


def test_custom_policy_with_context_entries(call: Call) -> None:
    policy = doc(
        "s3:GetObject",
        Condition={
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
        },
    )

    def decide(*entries: dict[str, Any]) -> dict[str, Any]:
        response = call(
            "SimulateCustomPolicy",
            PolicyInputList=[policy],
            ActionNames=["s3:GetObject"],
            ContextEntries=list(entries),
        )
        result: dict[str, Any] = response["EvaluationResults"][0]
        return result

    inside = entry("aws:SourceIp", "10.1.2.3", kind="ip")
    mfa = entry("aws:MultiFactorAuthPresent", "TRUE", kind="boolean")
    assert decide(inside, mfa)["EvalDecision"] == "allowed"
    assert decide(entry("aws:SourceIp", "192.0.2.1", kind="ip"), mfa)["EvalDecision"] == (
        "implicitDeny"
    )
    missing = decide(inside)
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["aws:MultiFactorAuthPresent"]


def test_pagination_of_evaluation_results(call: Call) -> None:
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    params = {"PolicyInputList": [doc("s3:Get*")], "ActionNames": actions, "MaxItems": 2}
    first = call("SimulateCustomPolicy", **params)
    assert first["IsTruncated"] is True
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2]
    second = call("SimulateCustomPolicy", Marker=first["Marker"], **params)
    assert second["IsTruncated"] is False and "Marker" not in second
    assert [r["EvalActionName"] for r in second["EvaluationResults"]] == actions[2:]
    assert [
        r["EvalDecision"] for r in first["EvaluationResults"] + second["EvaluationResults"]
    ] == [
        "allowed",
        "implicitDeny",
        "implicitDeny",
    ]


@pytest.mark.usefixtures("self_service")
def test_principal_pagination(call: Call) -> None:
    actions = ["iam:GetUser", "iam:ListUsers", "iam:DeleteUser"]
    params = {"PolicySourceArn": ALICE, "ActionNames": actions, "MaxItems": 1}
    seen: list[str] = []
    marker = None
    while True:
        page = call("SimulatePrincipalPolicy", **params, **({"Marker": marker} if marker else {}))
        seen += [r["EvalActionName"] for r in page["EvaluationResults"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == actions


@pytest.mark.usefixtures("self_service")
def test_context_keys(call: Call) -> None:
    call(
        "PutGroupPolicy",
        GroupName="SelfService",
        PolicyName="office",
        PolicyDocument=doc("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )
    principal = call("GetContextKeysForPrincipalPolicy", PolicySourceArn=ALICE)
    assert principal["ContextKeyNames"] == [
        "aws:MultiFactorAuthPresent",
        "aws:SourceIp",
        "aws:username",
    ]
    extra = doc("s3:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    with_input = call(
        "GetContextKeysForPrincipalPolicy", PolicySourceArn=BOB, PolicyInputList=[extra]
    )
    assert with_input["ContextKeyNames"] == ["aws:RequestedRegion"]  # bob is in no group
    custom = call("GetContextKeysForCustomPolicy", PolicyInputList=[self_service_policy_document()])
    assert custom["ContextKeyNames"] == ["aws:MultiFactorAuthPresent", "aws:username"]


@pytest.mark.usefixtures("self_service")
def test_errors(call: Call) -> None:
    with pytest.raises(MalformedPolicyDocument):
        call("SimulateCustomPolicy", PolicyInputList=["{"], ActionNames=["s3:GetObject"])
    with pytest.raises(MalformedPolicyDocument):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=ALICE,
            PolicyInputList=[json.dumps({"Statement": [{"Effect": "Allow"}]})],
            ActionNames=["s3:GetObject"],
        )
    with pytest.raises(MalformedPolicyDocument):
        call("GetContextKeysForCustomPolicy", PolicyInputList=["[]"])
    with pytest.raises(NoSuchEntity) as ghost:
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/ghost",
            ActionNames=["s3:GetObject"],
        )
    assert ghost.value.message == "The user with name ghost cannot be found."
    with pytest.raises(NoSuchEntity):
        call(
            "GetContextKeysForPrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/ghosts",
        )
    with pytest.raises(NoSuchEntity):  # another account's user is not found here
        call("SimulatePrincipalPolicy", PolicySourceArn=ALICE.replace(ACCOUNT, "210987654321"),
             ActionNames=["s3:GetObject"])  # fmt: skip
    with pytest.raises(InvalidInput):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:policy/SelfServiceCredentials",
            ActionNames=["s3:GetObject"],
        )


def test_authorization(call: Call, caller_for: CallerFor) -> None:
    for name in ("alice", "bob", "mallory"):
        call("CreateUser", UserName=name)
    call(
        "PutUserPolicy",
        UserName="mallory",
        PolicyName="simulate-bob",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": BOB},
                    {"Effect": "Allow", "Action": "iam:GetContextKeysFor*", "Resource": BOB},
                ],
            }
        ),
    )
    mallory = caller_for("mallory")
    call("SimulatePrincipalPolicy", PolicySourceArn=BOB, ActionNames=["s3:X"], caller=mallory)
    call("GetContextKeysForPrincipalPolicy", PolicySourceArn=BOB, caller=mallory)
    who = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    with pytest.raises(AccessDenied) as other:
        call("SimulatePrincipalPolicy", PolicySourceArn=ALICE, ActionNames=["s3:X"], caller=mallory)
    assert other.value.message == (
        f"User: {who} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: "
        f"{ALICE} because no identity-based policy allows the iam:SimulatePrincipalPolicy action"
    )
    # Unknown entities are refused as denied first, so their existence does not show.
    with pytest.raises(AccessDenied):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/ghost",
            ActionNames=["s3:X"],
            caller=mallory,
        )
    with pytest.raises(AccessDenied) as custom:
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc("s3:*")],
            ActionNames=["s3:X"],
            caller=mallory,
        )
    assert "iam:SimulateCustomPolicy on resource: *" in custom.value.message
    with pytest.raises(AccessDenied) as keys:
        call("GetContextKeysForCustomPolicy", PolicyInputList=[doc("s3:*")], caller=mallory)
    assert "on resource: *" in keys.value.message


def test_role_source(call: Call, runtime: Runtime) -> None:
    """No role operation exists yet: the rows are written straight into the tables."""
    now = runtime.clock()
    with transaction(runtime.engine) as conn:
        conn.execute(
            t.roles.insert().values(
                role_id="AROAEXAMPLEEXAMPLE01", account_id=ACCOUNT, name="deployer",
                name_lower="deployer", path="/", assume_role_policy_document="{}",
                max_session_duration=3600, created_at=now,
            )
        )  # fmt: skip
        conn.execute(
            t.inline_policies.insert().values(
                owner_type="role", owner_id="AROAEXAMPLEEXAMPLE01", name="deploy",
                document=doc("s3:PutObject"), created_at=now, updated_at=now,
            )
        )  # fmt: skip
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    result = simulate(call, role, "s3:PutObject", "arn:aws:s3:::b/k")
    assert result["EvalDecision"] == "allowed"
    (statement,) = result["MatchedStatements"]
    assert (statement["SourcePolicyId"], statement["SourcePolicyType"]) == ("deploy", "role")
    assert simulate(call, role, "s3:GetObject", "*")["EvalDecision"] == "implicitDeny"


# --- bounded work: pages of actions, each over every resource (issue 10) -----------------


def evaluations() -> int:
    """The simulator's evaluation counter (read at call time: it did not exist before)."""
    from selfiam.service import simulate as simulator

    return int(simulator.evaluations.value)


def walk(call: Call, operation: str, **params: Any) -> list[dict[str, Any]]:
    """Every page, following Marker; asserts each page keeps to MaxItems."""
    pages: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = call(operation, **params, **({"Marker": marker} if marker else {}))
        assert len(page["EvaluationResults"]) <= params.get("MaxItems", 100)
        pages.append(page)
        if not page["IsTruncated"]:
            assert "Marker" not in page
            return pages
        marker = page["Marker"]


def test_a_page_costs_its_own_actions_not_the_request(call: Call) -> None:
    """200 actions x 500 resources used to answer a page of 100 results of 500 resources
    each (50,000 evaluations): a page now stops when its estimated work reaches PAGE_STEPS,
    computes only its own actions (each over every resource, counted), and its answer is
    bounded by the page, whatever the size of the request."""
    from selfiam.service.simulation_cost import PAGE_STEPS, STATEMENT_STEPS

    actions = [f"iam:Action{i}" for i in range(200)]
    resources = [f"arn:aws:iam::{ACCOUNT}:user/u{i}" for i in range(500)]
    params = {"PolicyInputList": [doc("iam:*")], "ActionNames": actions, "ResourceArns": resources}
    page = call("SimulateCustomPolicy", **params)
    results = page["EvaluationResults"]
    taken = len(results)
    assert 1 <= taken < 100 and page["IsTruncated"] is True  # was 100 results
    specific = [s for r in results for s in r["ResourceSpecificResults"]]
    assert len(specific) == taken * len(resources)
    assert len(specific) * STATEMENT_STEPS <= PAGE_STEPS  # was 50,000 x 16 = 800,000
    assert len(json.dumps(page)) <= 16 * PAGE_STEPS
    assert [r["EvalActionName"] for r in results] == actions[:taken]
    for result in results:
        assert [s["EvalResourceName"] for s in result["ResourceSpecificResults"]] == resources
        assert result["EvalDecision"] == "allowed"
    before = evaluations()
    assert call("SimulateCustomPolicy", **params) == page
    assert evaluations() - before == taken * len(resources)

    before = evaluations()
    deep = call("SimulateCustomPolicy", **params, MaxItems=3, Marker=page["Marker"])
    assert [r["EvalActionName"] for r in deep["EvaluationResults"]] == actions[taken : taken + 3]
    assert evaluations() - before == 3 * len(resources)


@pytest.mark.usefixtures("self_service")
def test_every_action_once_in_order_with_every_resource(call: Call) -> None:
    actions = ["iam:GetUser", "iam:CreateAccessKey", "iam:DeleteUser", "iam:ListUsers"]
    resources = [ALICE, BOB, "*"]
    for operation, extra in (
        ("SimulateCustomPolicy", {"PolicyInputList": [self_service_policy_document()]}),
        ("SimulatePrincipalPolicy", {"PolicySourceArn": ALICE}),
    ):
        before = evaluations()
        pages = walk(
            call,
            operation,
            ActionNames=actions,
            ResourceArns=resources,
            ContextEntries=context_of("alice", mfa=True),
            MaxItems=3,
            **extra,
        )
        results = [r for page in pages for r in page["EvaluationResults"]]
        assert [len(p["EvaluationResults"]) for p in pages] == [3, 1]
        assert [r["EvalActionName"] for r in results] == actions
        # SimulatePrincipalPolicy's CallerArn defaults to the user: the details of a
        # resource in the same account need no second evaluation.
        assert evaluations() - before == len(actions) * len(resources) == 12
        decided = {
            (r["EvalActionName"], s["EvalResourceName"]): s["EvalResourceDecision"]
            for r in results
            for s in r["ResourceSpecificResults"]
        }
        assert list(decided) == [(a, r) for a in actions for r in resources]
        assert decided[("iam:CreateAccessKey", ALICE)] == "allowed"
        assert decided[("iam:CreateAccessKey", BOB)] == "implicitDeny"
        for result in results:  # the top level is the most restrictive over the resources
            own = [s["EvalResourceDecision"] for s in result["ResourceSpecificResults"]]
            worst = max(own, key=["allowed", "implicitDeny", "explicitDeny"].index)
            assert result["EvalDecision"] == worst


def test_costly_results_make_shorter_pages(call: Call) -> None:
    """A page holds at most PAGE_STEPS of estimated work: ForAnyValue:StringLike with 400
    patterns over 40 tag keys costs ~90,000 steps a result, so a page holds 5 of them."""
    from selfiam.service.simulation_cost import PAGE_STEPS

    patterns = [f"t{i}*" for i in range(400)]
    policy = doc("s3:*", Condition={"ForAnyValue:StringLike": {"aws:TagKeys": patterns}})
    tags = entry("aws:TagKeys", *[f"k-{i}" for i in range(40)], kind="stringList")
    actions = [f"s3:Action{i}" for i in range(10)]
    before = evaluations()
    pages = walk(
        call,
        "SimulateCustomPolicy",
        PolicyInputList=[policy],
        ActionNames=actions,
        ContextEntries=[tags],
        MaxItems=1000,
    )
    sizes = [len(p["EvaluationResults"]) for p in pages]
    assert sum(sizes) == 10 and max(sizes) < 10 and len(pages) > 1
    assert evaluations() - before == 10
    assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == actions
    assert max(sizes) <= PAGE_STEPS // (400 * 40 * 5)


def test_one_result_costing_more_than_a_page_is_refused(call: Call) -> None:
    patterns = [f"t{i}*" for i in range(400)]
    policy = doc("s3:*", Condition={"ForAnyValue:StringLike": {"aws:TagKeys": patterns}})
    tags = entry("aws:TagKeys", *[f"key-{i}" for i in range(1000)], kind="stringList")
    before = evaluations()
    with pytest.raises(InvalidInput) as refused:
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[policy],
            ActionNames=["s3:GetObject"],
            ContextEntries=[tags],
        )
    assert refused.value.message.startswith("The simulation is too large: one result would take")
    assert evaluations() == before


def test_one_action_over_too_many_resources_is_refused(call: Call) -> None:
    """A result holds every resource: 10,000 of them cost more than a page for one action."""
    resources = [f"arn:aws:s3:::bucket/{'k' * 40}{i}" for i in range(10_000)]
    before = evaluations()
    with pytest.raises(InvalidInput) as refused:
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc("s3:*")],
            ActionNames=["s3:GetObject"],
            ResourceArns=resources,
        )
    assert refused.value.message.startswith("The simulation is too large: one result would take")
    assert evaluations() == before
    fits = call(
        "SimulateCustomPolicy",
        PolicyInputList=[doc("s3:*")],
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=resources[:1000],
    )
    assert [len(r["ResourceSpecificResults"]) for r in fits["EvaluationResults"]] == [1000, 1000]
    assert evaluations() - before == 2000


def test_markers(call: Call) -> None:
    from selfiam.service.simulation_input import encode_marker, request_digest

    params: dict[str, Any] = {
        "PolicyInputList": [doc("s3:Get*")],
        "ActionNames": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        "MaxItems": 1,
    }
    first = call("SimulateCustomPolicy", **params)
    good = first["Marker"]
    assert len(good) <= 320 and good.isascii()
    other = {**params, "ActionNames": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]}
    digest = request_digest(params)
    bad = [
        "garbage",
        "bm90IGEgbWFya2Vy",  # base64 of "not a marker"
        good[:-4],
        encode_marker(0, digest),  # the first page has no Marker
        encode_marker(3, digest),  # past the last action
        encode_marker(10**18, digest),
        encode_marker(1, "0" * 24),  # another request's
    ]
    for marker in bad:
        with pytest.raises(ValidationError) as invalid:
            call("SimulateCustomPolicy", **params, Marker=marker)
        assert invalid.value.message == "Invalid Marker."
    with pytest.raises(ValidationError):  # a Marker is valid only for its own request
        call("SimulateCustomPolicy", **other, Marker=good)
    with pytest.raises(ValidationError):  # its results would hold other resources
        call("SimulateCustomPolicy", **params, ResourceArns=["arn:aws:s3:::b/k"], Marker=good)
    # MaxItems may change between pages; the Marker still names the next action.
    rest = call("SimulateCustomPolicy", **{**params, "MaxItems": 1000}, Marker=good)
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == params["ActionNames"][1:]


def test_no_action_names_is_an_empty_answer(call: Call) -> None:
    page = call("SimulateCustomPolicy", PolicyInputList=[doc("s3:*")], ActionNames=[])
    assert page == {"EvaluationResults": [], "IsTruncated": False}


@pytest.mark.parametrize("max_items", [0, 1001, -1])
def test_max_items_bounds(call: Call, max_items: int) -> None:
    with pytest.raises(ValidationError) as invalid:
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc("s3:*")],
            ActionNames=["s3:GetObject"],
            MaxItems=max_items,
        )
    assert invalid.value.message == (
        f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
        "constraint: Member must have value between 1 and 1000"
    )


def test_heavy_reads_leave_the_event_loop(runtime: Runtime) -> None:
    from selfiam.api.backend import RuntimeBackend

    backend = RuntimeBackend(runtime)
    assert runtime.local_database
    assert backend.is_fast("iam", "GetUser") and backend.is_fast("iam", "ListUsers")
    assert backend.is_fast("iam", "GetAccountSummary")  # reads the account's counter rows
    for action in (
        "SimulateCustomPolicy",
        "SimulatePrincipalPolicy",
        "GetContextKeysForCustomPolicy",
        "GetContextKeysForPrincipalPolicy",
        "GetAccountAuthorizationDetails",
        "GetCredentialReport",
        "ListEntitiesForPolicy",
        "CreateUser",
    ):
        assert not backend.is_fast("iam", action), action
