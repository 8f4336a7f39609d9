"""Inline policies of users and groups, through ``Runtime.invoke``."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from tests.service.conftest import Call

from selfiam.domain.errors import LimitExceeded, MalformedPolicyDocument, NoSuchEntity

OWNERS = [
    ("CreateUser", "UserName", "User"),
    ("CreateGroup", "GroupName", "Group"),
]


def doc(*actions: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}],
        }
    )


def sized(chars: int) -> str:
    """A valid document of exactly ``chars`` non-white-space characters."""
    base = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*", "Sid": ""}],
        },
        separators=(",", ":"),
    )
    pad = chars - len(base)
    assert pad >= 0
    return base.replace('"Sid":""', '"Sid":"' + "S" * pad + '"')


@pytest.mark.parametrize(("create_op", "param", "kind"), OWNERS)
def test_put_get_list_delete(call: Call, create_op: str, param: str, kind: str) -> None:
    call(create_op, **{param: "Owner"})
    body = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::a/b c+d"}
            ],
        },
        indent=2,
    )
    call(f"Put{kind}Policy", **{param: "owner", "PolicyName": "Beta", "PolicyDocument": body})
    call(
        f"Put{kind}Policy",
        **{param: "Owner", "PolicyName": "Alpha", "PolicyDocument": doc("iam:Get*")},
    )
    got = call(f"Get{kind}Policy", **{param: "OWNER", "PolicyName": "Beta"})
    assert got[param] == "Owner"
    assert got["PolicyName"] == "Beta"
    assert " " not in got["PolicyDocument"] and "%2F" in got["PolicyDocument"]
    assert unquote(got["PolicyDocument"]) == body  # stored as given, white space and all
    listed = call(f"List{kind}Policies", **{param: "Owner"})
    assert listed == {"PolicyNames": ["Alpha", "Beta"], "IsTruncated": False}
    page = call(f"List{kind}Policies", **{param: "Owner", "MaxItems": 1})
    assert page["PolicyNames"] == ["Alpha"] and page["IsTruncated"]
    rest = call(f"List{kind}Policies", **{param: "Owner", "Marker": page["Marker"]})
    assert rest["PolicyNames"] == ["Beta"] and not rest["IsTruncated"]
    # Put again replaces the document.
    call(
        f"Put{kind}Policy",
        **{param: "Owner", "PolicyName": "Beta", "PolicyDocument": doc("s3:Get*")},
    )
    again = call(f"Get{kind}Policy", **{param: "Owner", "PolicyName": "Beta"})
    assert json.loads(unquote(again["PolicyDocument"]))["Statement"][0]["Action"] == ["s3:Get*"]
    call(f"Delete{kind}Policy", **{param: "Owner", "PolicyName": "Beta"})
    assert call(f"List{kind}Policies", **{param: "Owner"})["PolicyNames"] == ["Alpha"]


@pytest.mark.parametrize(("create_op", "param", "kind"), OWNERS)
def test_missing_policy_and_owner(call: Call, create_op: str, param: str, kind: str) -> None:
    call(create_op, **{param: "Owner"})
    lower = kind.lower()
    for op in ("Get", "Delete"):
        with pytest.raises(NoSuchEntity) as err:
            call(f"{op}{kind}Policy", **{param: "Owner", "PolicyName": "Nope"})
        assert err.value.message == f"The {lower} policy with name Nope cannot be found."
    with pytest.raises(NoSuchEntity) as owner:
        call(
            f"Put{kind}Policy", **{param: "ghost", "PolicyName": "P", "PolicyDocument": doc("s3:*")}
        )
    assert owner.value.message == f"The {lower} with name ghost cannot be found."
    with pytest.raises(NoSuchEntity):
        call(f"List{kind}Policies", **{param: "ghost"})


def test_inline_policy_names_are_case_sensitive(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=doc("s3:*"))
    call("PutUserPolicy", UserName="alice", PolicyName="P", PolicyDocument=doc("s3:*"))
    assert call("ListUserPolicies", UserName="alice")["PolicyNames"] == ["P", "p"]
    with pytest.raises(NoSuchEntity):
        call("GetUserPolicy", UserName="alice", PolicyName="Q")


@pytest.mark.parametrize(("create_op", "param", "kind"), OWNERS)
def test_malformed_document(call: Call, create_op: str, param: str, kind: str) -> None:
    call(create_op, **{param: "Owner"})
    for bad in ("{", '{"Version": "2012-10-17"}', doc("s3:*").replace('"Allow"', '"Maybe"')):
        with pytest.raises(MalformedPolicyDocument):
            call(f"Put{kind}Policy", **{param: "Owner", "PolicyName": "P", "PolicyDocument": bad})
    principal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
        }
    )
    with pytest.raises(MalformedPolicyDocument):
        call(f"Put{kind}Policy", **{param: "Owner", "PolicyName": "P", "PolicyDocument": principal})


@pytest.mark.parametrize(
    ("create_op", "param", "kind", "limit"),
    [("CreateUser", "UserName", "User", 2048), ("CreateGroup", "GroupName", "Group", 5120)],
)
def test_inline_quota_is_the_aggregate_per_owner(
    call: Call, create_op: str, param: str, kind: str, limit: int
) -> None:
    call(create_op, **{param: "Owner"})
    lower = kind.lower()
    put = f"Put{kind}Policy"
    with pytest.raises(LimitExceeded) as single:
        call(put, **{param: "Owner", "PolicyName": "Big", "PolicyDocument": sized(limit + 1)})
    assert (
        single.value.message == f"Maximum policy size of {limit} bytes exceeded for {lower} Owner"
    )
    # Exactly the quota fits, and white space does not count.
    call(
        put,
        **{param: "Owner", "PolicyName": "A", "PolicyDocument": sized(limit - 200) + "\n" * 500},
    )
    call(put, **{param: "Owner", "PolicyName": "B", "PolicyDocument": sized(200)})
    with pytest.raises(LimitExceeded) as aggregate:
        call(put, **{param: "Owner", "PolicyName": "C", "PolicyDocument": sized(150)})
    assert (
        aggregate.value.message
        == f"Maximum policy size of {limit} bytes exceeded for {lower} Owner"
    )
    # Replacing a policy counts its new size, not old + new.
    call(put, **{param: "Owner", "PolicyName": "B", "PolicyDocument": sized(150)})
    call(f"Delete{kind}Policy", **{param: "Owner", "PolicyName": "B"})
    call(put, **{param: "Owner", "PolicyName": "C", "PolicyDocument": sized(150)})
