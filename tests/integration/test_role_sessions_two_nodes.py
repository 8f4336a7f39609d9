"""Role sessions across two live selfiam processes on one PostgreSQL database.

DESIGN rule 7 ("a change made through one process ... is enforced by every process on
its very next request") and rule 9 (sessions are stored server-side so that selfiam can
end them before they expire). A role session created through node A and used (so
cached) on node B is refused by node B on its very next request once, through node A:
the role is deleted; the user who started it is deleted; and the same for a session
chained from it. Each case counts requests, never time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.postgres import fresh_database
from support.server import LiveServer, another_node, live_server

pytestmark = pytest.mark.slow

INVALID = "The security token included in the request is invalid."
LIST_ROLES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:ListRoles", "sts:AssumeRole"], "Resource": "*"}
        ],
    }
)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    with (
        fresh_database() as url,
        live_server(tmp_path_factory.mktemp("node-a"), url) as a,
        another_node(a) as b,
    ):
        yield a, b


def _trust(principal_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _session_client(node: LiveServer, creds: dict[str, Any], service: str = "iam") -> Any:
    return node.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], service, token=creds["SessionToken"]
    )


def _refused(client: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        client.list_roles()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _world(a: LiveServer, tag: str) -> dict[str, Any]:
    """A user with a key and two roles (``first`` trusts the user, ``second`` trusts
    ``first``), both allowed to list roles; sessions of both, made through node A."""
    iam = a.client()
    user = iam.create_user(UserName=f"user-{tag}")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    first = iam.create_role(RoleName=f"first-{tag}", AssumeRolePolicyDocument=_trust(user["Arn"]))[
        "Role"
    ]
    second = iam.create_role(
        RoleName=f"second-{tag}", AssumeRolePolicyDocument=_trust(first["Arn"])
    )["Role"]
    for role in (first, second):
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=LIST_ROLES)
    sts = a.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    one = sts.assume_role(RoleArn=first["Arn"], RoleSessionName="one")["Credentials"]
    chained = _session_client(a, one, "sts").assume_role(
        RoleArn=second["Arn"], RoleSessionName="two"
    )["Credentials"]
    return {"user": user, "key": key, "first": first, "second": second, "one": one,
            "chained": chained}  # fmt: skip


def test_deleting_the_role_on_a_ends_its_sessions_on_b(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    w = _world(a, "role")
    on_b = _session_client(b, w["one"])
    chained_on_b = _session_client(b, w["chained"])
    assert on_b.list_roles()["Roles"]  # node B has loaded and cached both sessions
    assert chained_on_b.list_roles()["Roles"]
    iam = a.client()
    iam.delete_role_policy(RoleName=w["first"]["RoleName"], PolicyName="p")
    iam.delete_role(RoleName=w["first"]["RoleName"])
    assert _refused(on_b) == ("InvalidClientTokenId", INVALID)  # the very next request
    # The chained session belongs to ``second``, which still exists: it lives on, as in
    # AWS (deleting a role ends its own sessions only).
    assert chained_on_b.list_roles()["Roles"]
    iam.delete_role_policy(RoleName=w["second"]["RoleName"], PolicyName="p")
    iam.delete_role(RoleName=w["second"]["RoleName"])
    assert _refused(chained_on_b) == ("InvalidClientTokenId", INVALID)


def test_deleting_the_user_on_a_ends_the_sessions_it_started_on_b(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    w = _world(a, "user")
    on_b = _session_client(b, w["one"])
    chained_on_b = _session_client(b, w["chained"])
    assert on_b.list_roles()["Roles"] and chained_on_b.list_roles()["Roles"]
    iam = a.client()
    iam.delete_access_key(UserName=w["user"]["UserName"], AccessKeyId=w["key"]["AccessKeyId"])
    iam.delete_user(UserName=w["user"]["UserName"])
    assert _refused(on_b) == ("InvalidClientTokenId", INVALID)
    assert _refused(chained_on_b) == ("InvalidClientTokenId", INVALID)


def test_revoking_older_sessions_on_a_applies_on_b(nodes: tuple[LiveServer, LiveServer]) -> None:
    """AWSRevokeOlderSessions put through node A denies node B's cached older session
    on its next request ("Revoking IAM role temporary security credentials")."""
    a, b = nodes
    w = _world(a, "revoke")
    on_b = _session_client(b, w["one"])
    assert on_b.list_roles()["Roles"]
    issued = w["one"]["Expiration"]  # one hour after issue: any later cut-off will do
    revoke = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {
                        "DateLessThan": {
                            "aws:TokenIssueTime": issued.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                        }
                    },
                }
            ],
        }
    )
    a.client().put_role_policy(
        RoleName=w["first"]["RoleName"], PolicyName="AWSRevokeOlderSessions", PolicyDocument=revoke
    )
    code, message = _refused(on_b)
    assert code == "AccessDenied" and "with an explicit deny in an identity-based policy" in message
