"""AWS's managed policies in the database: refresh on an existing database, attachment,
enforcement, and the answers AWS gives for its own policies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from selfiam.auth.secretbox import SecretBox
from selfiam.catalog.managed_policies import load_dataset
from selfiam.domain.errors import AccessDenied, AwsError
from selfiam.domain.identifiers import new_policy_id, new_request_id
from selfiam.service.aws_policies import SyncResult, sync_aws_managed_policies
from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.migrate import upgrade_to_head
from support.clock import Clock

ACCOUNT = "123456789012"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
OLD_READ_ONLY = {  # an old ReadOnlyAccess: GetUser only, no List*
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
}
Call = Callable[..., dict[str, Any]]


def _old_policy(conn: Any, name: str, version: str, document: dict[str, Any]) -> str:
    """A row as the six-policy seed before the dataset wrote it: a random id, indented JSON."""
    policy_id = new_policy_id()
    when = datetime(2015, 2, 6, 18, 39, 48, tzinfo=UTC)
    conn.execute(
        t.managed_policies.insert().values(
            policy_id=policy_id,
            arn=f"arn:aws:iam::aws:policy/{name}",
            account_id=None,
            namespace="aws",
            name=name,
            name_lower=name.lower(),
            path="/",
            description=None,
            default_version_id=version,
            next_version_number=int(version[1:]) + 1,
            is_attachable=True,
            created_at=when,
            updated_at=when,
        )
    )
    conn.execute(
        t.policy_versions.insert().values(
            policy_id=policy_id,
            version_id=version,
            document=json.dumps(document, indent=4),
            created_at=when,
        )
    )
    return policy_id


@pytest.fixture
def old_runtime(migrated_url: str) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A database in the state before this dataset: two of the six old AWS policies (on
    SQLite and PostgreSQL)."""
    engine = create_engine_for(migrated_url)
    admin = json.loads(next(p.document for p in load_dataset() if p.name == "AdministratorAccess"))
    with transaction(engine) as conn:
        ids = {
            "ReadOnlyAccess": _old_policy(conn, "ReadOnlyAccess", "v1", OLD_READ_ONLY),
            "AdministratorAccess": _old_policy(conn, "AdministratorAccess", "v1", admin),
        }
        create_account(conn, Clock()(), ACCOUNT)
    runtime = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=Clock())
    yield runtime, ids
    runtime.audit.flush()
    engine.dispose()


def _call(runtime: Runtime) -> Call:
    def invoke(operation: str, *, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), service="iam")
        return runtime.invoke("iam", operation, params, caller or Caller.root(ACCOUNT), info)

    return invoke


def _user(call: Call, name: str) -> Caller:
    user = call("CreateUser", UserName=name)["User"]
    return Caller(
        account_id=ACCOUNT,
        arn=user["Arn"],
        user_id=user["UserId"],
        user_name=name,
        access_key_id="AKIATESTTESTTESTTEST",
    )


def test_refresh_upgrades_an_old_database_and_attached_principals_follow(
    old_runtime: tuple[Runtime, dict[str, str]],
) -> None:
    runtime, old_ids = old_runtime
    call = _call(runtime)
    alice = _user(call, "alice")
    call("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    call("GetUser", UserName="alice", caller=alice)
    with pytest.raises(AccessDenied):  # the old document: GetUser only
        call("ListUsers", caller=alice)

    dataset = load_dataset()
    result = sync_aws_managed_policies(runtime.engine)
    assert result == SyncResult(added=len(dataset) - 2, updated=1, unchanged=1)

    # The same process, its caches warm: alice gets AWS's current ReadOnlyAccess at once.
    assert call("ListUsers", caller=alice)["Users"]
    with pytest.raises(AccessDenied):
        call("CreateUser", UserName="mallory", caller=alice)

    current = next(p for p in dataset if p.name == "ReadOnlyAccess")
    policy = call("GetPolicy", PolicyArn=READ_ONLY)["Policy"]
    assert policy["PolicyId"] == old_ids["ReadOnlyAccess"]  # ids never change
    assert policy["DefaultVersionId"] == current.default_version_id
    assert policy["UpdateDate"] == current.update_date
    assert policy["AttachmentCount"] == 1
    versions = call("ListPolicyVersions", PolicyArn=READ_ONLY)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        (current.default_version_id, True),
        ("v1", False),
    ]
    old = call("GetPolicyVersion", PolicyArn=READ_ONLY, VersionId="v1")["PolicyVersion"]
    assert json.loads(unquote(old["Document"])) == OLD_READ_ONLY  # never rewritten

    # Idempotent: a second start changes nothing.
    assert sync_aws_managed_policies(runtime.engine) == SyncResult(0, 0, len(dataset))


@pytest.fixture
def call(tmp_path: Path) -> Iterator[Call]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade_to_head(engine)
    sync_aws_managed_policies(engine)
    with transaction(engine) as conn:
        create_account(conn, Clock()(), ACCOUNT)
    runtime = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=Clock())
    yield _call(runtime)
    runtime.audit.flush()
    engine.dispose()


def _error(call: Call, operation: str, **params: Any) -> AwsError:
    with pytest.raises(AwsError) as err:
        call(operation, **params)
    return err.value


def test_aws_policies_cannot_be_changed(call: Call) -> None:
    document = json.dumps(OLD_READ_ONLY)
    for operation, params in (
        ("DeletePolicy", {}),
        ("CreatePolicyVersion", {"PolicyDocument": document}),
        ("DeletePolicyVersion", {"VersionId": "v1"}),
        ("SetDefaultPolicyVersion", {"VersionId": "v1"}),
        ("TagPolicy", {"Tags": [{"Key": "a", "Value": "b"}]}),
    ):
        err = _error(call, operation, PolicyArn=READ_ONLY, **params)
        assert (err.code, err.status) == ("AccessDenied", 403), operation
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
            f"iam:{operation} on resource: {READ_ONLY}"
        )


def test_service_role_policies_attach_where_aws_lets_them(call: Call) -> None:
    call("CreateUser", UserName="bob")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    call("CreateRole", RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))
    lambda_role = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    call("AttachRolePolicy", RoleName="fn", PolicyArn=lambda_role)
    call(
        "AttachUserPolicy",
        UserName="bob",
        PolicyArn="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    )
    linked = "arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy"
    err = _error(call, "AttachRolePolicy", RoleName="fn", PolicyArn=linked)
    assert (err.code, err.status, err.message) == (
        "PolicyNotAttachable",
        400,
        "Cannot attach a Service Role Policy to a Customer Role.",
    )
    assert _error(call, "AttachUserPolicy", UserName="bob", PolicyArn=linked).code == (
        "PolicyNotAttachable"
    )
    attached = call("ListAttachedRolePolicies", RoleName="fn")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": lambda_role}]
    listed = call("ListPolicies", OnlyAttached=True, Scope="AWS")["Policies"]
    assert {(p["PolicyName"], p["AttachmentCount"]) for p in listed} == {
        ("AWSLambdaBasicExecutionRole", 1),
        ("ViewOnlyAccess", 1),
    }


def test_the_compiled_cache_weighs_what_aws_policies_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compiled policy is weighed at 16 bytes per character of its text (measured ~14),
    and the budget holds every AWS policy at once, but not unboundedly many."""
    from selfiam.policy import PolicyKind
    from selfiam.service import compiled
    from selfiam.service.simulation_cache import SizedCache

    text = "".join(p.document for p in load_dataset())
    assert len(text) * compiled.COMPILED_BYTES_PER_CHAR < compiled.MAX_COMPILED_BYTES
    cache: SizedCache[Any, Any] = SizedCache(8192, compiled.MAX_COMPILED_BYTES)
    monkeypatch.setattr(compiled, "_COMPILED", cache)
    read_only = next(p for p in load_dataset() if p.name == "ReadOnlyAccess").document
    policy = compiled.compiled_policy(read_only, PolicyKind.MANAGED, READ_ONLY)
    assert policy.statements  # ReadOnlyAccess (~90,000 characters) compiles
    assert cache.size == len(read_only) * compiled.COMPILED_BYTES_PER_CHAR


def test_list_policies_pages_through_every_aws_policy(call: Call) -> None:
    dataset = load_dataset()
    seen: list[str] = []
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = call("ListPolicies", Scope="AWS", MaxItems=250, **marker)
        pages += 1
        seen += [p["Arn"] for p in page["Policies"]]
        if not page["IsTruncated"]:
            break
        marker = {"Marker": page["Marker"]}
    assert sorted(seen) == sorted(p.arn for p in dataset)
    assert len(set(seen)) == len(seen)
    assert pages == -(-len(dataset) // 250)
    job = call("ListPolicies", Scope="AWS", PathPrefix="/job-function/")["Policies"]
    assert job and all(p["Arn"].startswith("arn:aws:iam::aws:policy/job-function/") for p in job)
    assert call("ListPolicies", Scope="Local")["Policies"] == []


def test_get_policy_answers_aws_fields(call: Call) -> None:
    current = next(p for p in load_dataset() if p.name == "ReadOnlyAccess")
    policy = call("GetPolicy", PolicyArn=READ_ONLY)["Policy"]
    assert policy == {
        "PolicyName": "ReadOnlyAccess",
        "PolicyId": current.policy_id,
        "Arn": READ_ONLY,
        "Path": "/",
        "DefaultVersionId": current.default_version_id,
        "AttachmentCount": 0,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": current.create_date,
        "UpdateDate": current.update_date,
        "Tags": [],
    }
    version = call("GetPolicyVersion", PolicyArn=READ_ONLY, VersionId=current.default_version_id)
    assert json.loads(unquote(version["PolicyVersion"]["Document"])) == json.loads(current.document)
    assert version["PolicyVersion"]["IsDefaultVersion"] is True
    assert version["PolicyVersion"]["CreateDate"] == current.update_date
