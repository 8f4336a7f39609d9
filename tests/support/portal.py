"""Helpers for driving the portal's forms with Starlette's TestClient."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from selfiam.settings import Settings

PASSWORD = "Initial-Passw0rd!"


def app_settings(data_dir: Any) -> Settings:
    """Settings for create_app in tests (defaults; no environment)."""
    return Settings.from_env({}, data_dir=data_dir)


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: TestClient, path: str, page: str, **fields: str) -> Any:
    """GET ``page`` for its CSRF token, then POST ``fields`` to ``path`` (no redirects)."""
    html = client.get(page).text
    return client.post(path, data={"csrf": csrf_of(html), **fields}, follow_redirects=False)


def sign_in(client: TestClient, account: str, user: str, password: str = PASSWORD) -> Any:
    return post_form(
        client,
        "/portal/signin",
        "/portal/signin",
        account=account,
        username=user,
        password=password,
    )


def mfa_code(seed: str, now: Any, offset: int = 0) -> str:
    """The code a device with ``seed`` shows ``offset`` steps from ``now``."""
    from selfiam.domain import totp

    return totp.code_at(seed, totp.time_step(now) + offset)


def text_of(page: str) -> str:
    """A page's text: tags dropped, entities decoded, white space folded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def denied(account: str, user: str, action: str, resource: str) -> str:
    """The head of AWS's AccessDenied message (its reason depends on the policy)."""
    return (
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: {action} "
        f"on resource: {resource} "
    )
