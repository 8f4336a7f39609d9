"""The portal's lists are paged (issue 14): Next walks a directory bigger than a page to
its end, every entry once, and Previous walks back to the first page; a forged marker is
IAM's ValidationError, not a server error."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.portal.paging import PAGE_SIZE
from support.portal import PASSWORD, sign_in

RootCall = Callable[..., dict[str, Any]]
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
COUNT = 2 * PAGE_SIZE + 7


@pytest.fixture
def admin(client: TestClient, account: str, root_call: RootCall) -> TestClient:
    root_call("CreateUser", UserName="boss")
    root_call("AttachUserPolicy", UserName="boss", PolicyArn=ADMIN_ACCESS)
    root_call("CreateLoginProfile", UserName="boss", Password=PASSWORD)
    assert sign_in(client, account, "boss").status_code == 303
    return client


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def _names(page: str, prefix: str) -> list[str]:
    return re.findall(rf">({prefix}\d+)</a>", page)


@pytest.mark.parametrize(
    ("path", "create", "prefix"),
    [
        ("/portal/admin/users", "CreateUser", "u"),
        ("/portal/admin/groups", "CreateGroup", "g"),
        ("/portal/users", "CreateUser", "u"),
        ("/portal/groups", "CreateGroup", "g"),
    ],
)
def test_next_and_previous_walk_the_whole_list(
    admin: TestClient, root_call: RootCall, path: str, create: str, prefix: str
) -> None:
    param = "UserName" if create == "CreateUser" else "GroupName"
    for i in range(COUNT):
        root_call(create, **{param: f"{prefix}{i:04d}"})
    pages: list[list[str]] = []
    url: str | None = path
    last = path
    while url is not None:
        page = admin.get(url)
        assert page.status_code == 200
        pages.append(_names(page.text, prefix))
        assert (_link(page.text, "prev") is None) == (len(pages) == 1)
        last, url = url, _link(page.text, "next")
    assert len(pages) == 3 and all(len(p) <= PAGE_SIZE for p in pages)
    # Every entry once, in order (the account's other users come before the prefix).
    assert [n for p in pages for n in p] == [f"{prefix}{i:04d}" for i in range(COUNT)]

    back: list[list[str]] = []
    prev: str | None = last
    while prev is not None:
        page = admin.get(prev).text
        back.append(_names(page, prefix))
        prev = _link(page, "prev")
    assert back[::-1] == pages


def test_a_forged_marker_is_a_validation_error(admin: TestClient) -> None:
    page = admin.get("/portal/admin/users?marker=not-a-marker")
    assert page.status_code == 400
    assert "Invalid Marker." in page.text
