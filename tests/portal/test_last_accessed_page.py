"""The admin portal's "Last accessed" view: on a user's, group's and role's page (and
for a managed policy, from its attachment or the form), generated and read through the
service operations as the signed-in member, without JavaScript; a member the policies
refuse gets AWS's AccessDenied."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.service.runtime import Runtime
from support.portal import PASSWORD, denied, post_form, sign_in, text_of

ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
RootCall = Callable[..., dict[str, Any]]
JOB = re.compile(r"/portal/admin/last-accessed/([0-9a-f-]{36})$")


@pytest.fixture
def team(root_call: RootCall, account: str) -> str:
    """boss (AdministratorAccess) and dev (in group devs: IAMReadOnlyAccess, and an inline
    S3 policy); returns dev's ARN."""
    for name in ("boss", "dev"):
        root_call("CreateUser", UserName=name)
        root_call("CreateLoginProfile", UserName=name, Password=PASSWORD)
    root_call("AttachUserPolicy", UserName="boss", PolicyArn=ADMIN_ACCESS)
    root_call("CreateGroup", GroupName="devs")
    root_call("AddUserToGroup", GroupName="devs", UserName="dev")
    root_call("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    s3 = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    root_call(
        "PutUserPolicy",
        UserName="dev",
        PolicyName="s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [s3]}),
    )
    return f"arn:aws:iam::{account}:user/dev"


def _dev_lists_users(client: TestClient, runtime: Runtime, account: str) -> None:
    """dev signs in and opens the users page: iam:ListUsers, in the audit trail."""
    assert sign_in(client, account, "dev").status_code == 303
    assert client.get("/portal/admin/users").status_code == 200
    runtime.audit.flush()


def _generate(client: TestClient, page: str, arn: str, granularity: str) -> str:
    """Press the page's "Show last accessed" button; returns the report's path."""
    r = post_form(client, "/portal/admin/last-accessed", page, Arn=arn, Granularity=granularity)
    assert r.status_code == 303, r.text
    path = r.headers["location"].split("?")[0]
    assert JOB.search(path), path
    return path


def test_a_users_page_shows_what_was_used_when_and_by_whom(
    client: TestClient, runtime: Runtime, account: str, team: str
) -> None:
    _dev_lists_users(client, runtime, account)
    assert sign_in(client, account, "boss").status_code == 303
    page = client.get("/portal/admin/users/dev")
    assert "Show last accessed" in page.text and f'value="{team}"' in page.text
    assert "<script" not in page.text
    report = client.get(_generate(client, "/portal/admin/users/dev", team, "SERVICE_LEVEL"))
    assert report.status_code == 200
    text = text_of(report.text)
    assert "AWS Identity and Access Management (IAM) (iam)" in text
    iam_row = text.split("(iam)")[1].split("(s3)")[0]
    assert team in iam_row and "us-east-1" in iam_row and "UTC" in iam_row
    s3_row = text.split("(s3)")[1]
    assert "Not accessed in the tracking period" in s3_row
    # the entities of one service (GetServiceLastAccessedDetailsWithEntities)
    entities = client.get(JOB.search(report.url.path).group(0) + "/iam")  # type: ignore[union-attr]
    assert entities.status_code == 200
    assert "dev" in text_of(entities.text) and team in entities.text


def test_action_level_lists_the_tracked_actions(
    client: TestClient, runtime: Runtime, account: str, team: str
) -> None:
    _dev_lists_users(client, runtime, account)
    assert sign_in(client, account, "boss").status_code == 303
    path = _generate(client, "/portal/admin/users/dev", team, "ACTION_LEVEL")
    text = text_of(client.get(path).text)
    listed = text.split("iam:ListUsers ")[1][:100]
    assert team in listed and "UTC" in listed
    never = text.split("iam:ListServerCertificates ")[1][:60]
    assert "Not accessed in the tracking period" in never
    assert "iam:CreateUser" not in text  # read-only: not granted, not listed


def test_group_role_and_policy_reports(
    client: TestClient, runtime: Runtime, account: str, team: str, root_call: RootCall
) -> None:
    trust = {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}
    root_call(
        "CreateRole",
        RoleName="deploy",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    _dev_lists_users(client, runtime, account)
    assert sign_in(client, account, "boss").status_code == 303
    group_arn = f"arn:aws:iam::{account}:group/devs"
    group_page = client.get("/portal/admin/groups/devs")
    assert f'value="{group_arn}"' in group_page.text
    # the attached managed policy has its own button
    assert "Last accessed of IAMReadOnlyAccess" in group_page.text
    path = _generate(client, "/portal/admin/groups/devs", group_arn, "SERVICE_LEVEL")
    assert team in client.get(path).text  # the member who used it
    role_arn = f"arn:aws:iam::{account}:role/deploy"
    assert f'value="{role_arn}"' in client.get("/portal/admin/roles/deploy").text
    path = _generate(client, "/portal/admin/roles/deploy", role_arn, "SERVICE_LEVEL")
    assert "The permissions grant no service." in client.get(path).text
    # a managed policy, from the form page: who used what it grants
    path = _generate(client, "/portal/admin/last-accessed", READ_ONLY, "SERVICE_LEVEL")
    assert team in client.get(path).text


def test_a_member_without_permission_gets_access_denied(
    client: TestClient, runtime: Runtime, account: str, team: str, root_call: RootCall
) -> None:
    assert sign_in(client, account, "boss").status_code == 303
    job_path = _generate(client, "/portal/admin/users/dev", team, "SERVICE_LEVEL")
    root_call("DetachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    assert sign_in(client, account, "dev").status_code == 303
    r = post_form(
        client,
        "/portal/admin/last-accessed",
        "/portal/admin/last-accessed",
        Arn=team,
        Granularity="SERVICE_LEVEL",
    )
    assert r.status_code == 403
    head = denied(account, "dev", "iam:GenerateServiceLastAccessedDetails", team)
    assert head in text_of(r.text)
    r = client.get(job_path)
    assert r.status_code == 403
    assert denied(account, "dev", "iam:GetServiceLastAccessedDetails", "*") in text_of(r.text)


def test_bad_input_is_answered_as_the_api_would(
    client: TestClient, account: str, team: str
) -> None:
    assert sign_in(client, account, "boss").status_code == 303
    r = client.get("/portal/admin/last-accessed/" + "0" * 36)
    assert r.status_code == 400 and "is not valid" in text_of(r.text)
    r = client.get("/portal/admin/last-accessed/short")
    assert r.status_code == 400
    r = post_form(
        client,
        "/portal/admin/last-accessed",
        "/portal/admin/last-accessed",
        Arn=team,
        Granularity="EVERYTHING",
    )
    assert r.status_code == 400
