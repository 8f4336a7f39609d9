"""Finding 9: a portal button that needs several operations does all of them or none.

"Remove MFA" is DeactivateMFADevice (on the user) and DeleteVirtualMFADevice (on the device);
"create user" is CreateUser and CreateLoginProfile. A member allowed the first operation but
refused the second must find nothing changed, and AWS's AccessDenied for the second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from support.portal import csrf_of

CREDS = "/portal/credentials"


def _policy(*statements: dict[str, Any]) -> str:
    read = {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [read, *statements]})


def _post(client: TestClient, page: str, path: str, **fields: str) -> Any:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf": token, **fields}, follow_redirects=False)


def _devices(root_call: Callable[..., Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = root_call("ListVirtualMFADevices")["VirtualMFADevices"]
    return listed


def _audit(runtime: Runtime, account: str, action: str) -> list[tuple[str, str | None]]:
    from selfiam.service.audit import read_records

    runtime.audit.flush()
    records = read_records(runtime.engine, action=action, limit=100)
    return [(r.decision, r.error_code) for r in records if r.account_id == account]


@pytest.mark.parametrize("delete_allowed", [False, True])
def test_remove_mfa_is_all_or_nothing(
    signed_in: Any,
    member: Any,
    with_mfa: Any,
    root_call: Callable[..., Any],
    runtime: Runtime,
    account: str,
    delete_allowed: bool,
) -> None:
    member("bob", group=None)
    own_user = f"arn:aws:iam::{account}:user/bob"
    own_device = f"arn:aws:iam::{account}:mfa/bob"
    delete = {
        "Effect": "Allow" if delete_allowed else "Deny",
        "Action": "iam:DeleteVirtualMFADevice",
        "Resource": own_device,
    }
    deactivate = {"Effect": "Allow", "Action": "iam:DeactivateMFADevice", "Resource": own_user}
    root_call(
        "PutUserPolicy",
        UserName="bob",
        PolicyName="mfa",
        PolicyDocument=_policy(deactivate, delete),
    )
    client = signed_in("bob", with_mfa("bob"))
    before = _devices(root_call)
    assert [d["SerialNumber"] for d in before] == [own_device] and "User" in before[0]

    r = _post(client, CREDS, f"{CREDS}/mfa/remove", UserName="bob", SerialNumber=own_device)

    if not delete_allowed:
        assert r.status_code == 403
        assert "AccessDenied" in r.text
        assert (
            f"User: {own_user} is not authorized to perform: iam:DeleteVirtualMFADevice "
            f"on resource: {own_device} with an explicit deny in an identity-based policy"
        ) in r.text
        after = _devices(root_call)
        assert after == before  # still there, still assigned to bob (same EnableDate)
        assert root_call("ListMFADevices", UserName="bob")["MFADevices"][0]["SerialNumber"] == (
            own_device
        )
        # Nothing happened, so the trail shows the refusal and no deactivation.
        assert _audit(runtime, account, "iam:DeleteVirtualMFADevice") == [
            ("explicitDeny", "AccessDenied")
        ]
        assert _audit(runtime, account, "iam:DeactivateMFADevice") == []
    else:
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"{CREDS}?done=mfa-removed"
        assert _devices(root_call) == []
        assert root_call("ListMFADevices", UserName="bob")["MFADevices"] == []
        assert _audit(runtime, account, "iam:DeactivateMFADevice") == [("allowed", None)]
        assert _audit(runtime, account, "iam:DeleteVirtualMFADevice") == [("allowed", None)]


def test_remove_mfa_needs_deactivation_on_the_user_too(
    signed_in: Any, member: Any, with_mfa: Any, root_call: Callable[..., Any], account: str
) -> None:
    """Allowed to delete the device but not to deactivate it: nothing changes either."""
    member("bob", group=None)
    own_device = f"arn:aws:iam::{account}:mfa/bob"
    delete = {"Effect": "Allow", "Action": "iam:DeleteVirtualMFADevice", "Resource": own_device}
    root_call("PutUserPolicy", UserName="bob", PolicyName="mfa", PolicyDocument=_policy(delete))
    client = signed_in("bob", with_mfa("bob"))
    before = _devices(root_call)

    r = _post(client, CREDS, f"{CREDS}/mfa/remove", UserName="bob", SerialNumber=own_device)

    assert r.status_code == 403
    assert "is not authorized to perform: iam:DeactivateMFADevice" in r.text
    assert _devices(root_call) == before


def test_create_user_is_all_or_nothing(
    signed_in: Any, member: Any, root_call: Callable[..., Any], account: str
) -> None:
    """An admin page member allowed CreateUser but not CreateLoginProfile: no user is left
    behind without the password the page would have shown."""
    member("hr", group=None)
    create = {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"}
    root_call("PutUserPolicy", UserName="hr", PolicyName="hr", PolicyDocument=_policy(create))
    client = signed_in("hr")

    r = _post(client, "/portal/admin/users", "/portal/admin/users", UserName="newbie")

    assert r.status_code == 403
    assert "is not authorized to perform: iam:CreateLoginProfile" in r.text
    names = [u["UserName"] for u in root_call("ListUsers")["Users"]]
    assert "newbie" not in names

    profile = {"Effect": "Allow", "Action": "iam:CreateLoginProfile", "Resource": "*"}
    root_call(
        "PutUserPolicy", UserName="hr", PolicyName="hr", PolicyDocument=_policy(create, profile)
    )
    r = _post(client, "/portal/admin/users", "/portal/admin/users", UserName="newbie")
    assert r.status_code == 200, r.text
    assert root_call("GetLoginProfile", UserName="newbie")["LoginProfile"]["UserName"] == "newbie"


def test_invoke_together_refuses_reads(runtime: Runtime, account: str) -> None:
    """Steps are writes only: a read has nothing to make all-or-nothing."""
    from selfiam.domain.errors import InternalFailure
    from selfiam.service.together import invoke_together

    info = RequestInfo(request_id="t", now=runtime.clock())
    with pytest.raises(InternalFailure):
        invoke_together(runtime, [("iam", "ListUsers", {})], Caller.root(account), info)
