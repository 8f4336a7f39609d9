"""The change feed on SQLite: several processes on one file, per-key invalidation, and a
transaction whose snapshot predates a change never caches what it loaded as current."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from selfiam.domain.errors import AccessDenied
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.change_feed import KEEP, PRUNE_EVERY, last_id
from selfiam.store.engine import create_engine_for, read_transaction
from selfiam.store.tables import changes

from .conftest import Call

LIST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}],
    }
)


def test_a_snapshot_older_than_a_change_does_not_cache_its_load(
    call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="alice")
    call("PutUserPolicy", UserName="alice", PolicyName="list", PolicyDocument=LIST)
    alice = caller_for("alice")
    engine = create_engine_for(runtime.engine.url)
    other = Runtime(engine, runtime.box, clock=runtime.clock)  # a second process
    try:
        with read_transaction(other.engine) as old:
            other.invalidation.refresh(old)  # old's snapshot starts here
            call("DeleteUserPolicy", UserName="alice", PolicyName="list")
            with read_transaction(other.engine) as newer:
                other.invalidation.refresh(newer)  # applies the delete
            stale = other.principal_policies(old, alice, feed_read=True)
            assert stale.identity.policies  # the old snapshot still shows the policy
        loads = other.policy_loads
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
        with pytest.raises(AccessDenied):
            other.invoke("iam", "ListUsers", {}, alice, info)
        assert other.policy_loads == loads + 1  # reloaded, not served from the old snapshot
    finally:
        other.audit.flush()
        engine.dispose()


def test_writes_to_other_users_keep_a_cached_policy_set(
    call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    for name in ("alice", "bob"):
        call("CreateUser", UserName=name)
        call("PutUserPolicy", UserName=name, PolicyName="list", PolicyDocument=LIST)
    alice = caller_for("alice")

    def list_as_alice() -> Any:
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
        return runtime.invoke("iam", "ListUsers", {}, alice, info)

    list_as_alice()
    loads = runtime.policy_loads
    call("TagUser", UserName="bob", Tags=[{"Key": "k", "Value": "v"}])
    call("DeleteUserPolicy", UserName="bob", PolicyName="list")
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="bob")
    list_as_alice()
    assert runtime.policy_loads == loads
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    call(
        "PutGroupPolicy",
        GroupName="devs",
        PolicyName="deny",
        PolicyDocument=LIST.replace("Allow", "Deny"),
    )
    with pytest.raises(AccessDenied):
        list_as_alice()  # a group's policy reaches its members
    assert runtime.policy_loads > loads


def test_the_changes_table_is_pruned(call: Call, runtime: Runtime) -> None:
    call("CreateUser", UserName="alice")
    with read_transaction(runtime.engine) as conn:
        start = last_id(conn)
    # jump the ids close to a pruning point, as a long-lived database would be
    from selfiam.store.engine import transaction

    with transaction(runtime.engine) as conn:
        jump = (start // PRUNE_EVERY + 1) * PRUNE_EVERY + KEEP - 1  # the next id prunes
        conn.execute(changes.insert(), [{"id": jump, "change_key": "*"}])
    call("TagUser", UserName="alice", Tags=[{"Key": "k", "Value": "v"}])
    with read_transaction(runtime.engine) as conn:
        rows = conn.execute(changes.select()).all()
    assert min(r.id for r in rows) > start  # the old rows went


def test_a_process_applies_its_own_committed_changes_without_reading_them(
    call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    """After a commit, the writing process applies its own ``changes`` rows (the next
    request reads none of them); when another process's rows came first it does not, and
    the next refresh reads them all: either way a revoked policy is enforced at once."""
    call("CreateUser", UserName="alice")
    call("PutUserPolicy", UserName="alice", PolicyName="list", PolicyDocument=LIST)
    alice = caller_for("alice")
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
    runtime.invoke("iam", "ListUsers", {}, alice, info)  # caches alice's policies
    call("DeleteUserPolicy", UserName="alice", PolicyName="list")
    with read_transaction(runtime.engine) as conn:
        assert runtime.invalidation._last_row == last_id(conn)  # applied, not read
    with pytest.raises(AccessDenied):
        runtime.invoke("iam", "ListUsers", {}, alice, info)

    engine = create_engine_for(runtime.engine.url)
    other = Runtime(engine, runtime.box, clock=runtime.clock)  # a second process
    try:
        call("PutUserPolicy", UserName="alice", PolicyName="list", PolicyDocument=LIST)
        runtime.invoke("iam", "ListUsers", {}, alice, info)  # cached again
        # the other process writes first: this one's next write's rows do not follow its own
        other.invoke("iam", "CreateUser", {"UserName": "carol"}, Caller.root(alice.account_id),
                     RequestInfo(request_id=new_request_id(), now=runtime.clock()))
        applied = runtime.invalidation._last_row
        call("DeleteUserPolicy", UserName="alice", PolicyName="list")
        with pytest.raises(AccessDenied):
            runtime.invoke("iam", "ListUsers", {}, alice, info)
        assert runtime.invalidation._last_row != applied
    finally:
        other.audit.flush()
        engine.dispose()
