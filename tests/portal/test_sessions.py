"""Server-side sessions: hashed ids, idle and absolute expiry, and ending at once when the
user is deleted or the password changes elsewhere."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from selfiam.app import create_app
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings
from selfiam.store import tables as t
from support.portal import PASSWORD, post_form, sign_in

SIGNIN = "/portal/signin"


def _lands_on_signin(client: TestClient) -> bool:
    r = client.get("/portal/credentials", follow_redirects=False)
    return r.status_code == 303 and r.headers["location"] == SIGNIN


def test_only_the_tokens_hash_is_stored(
    client: TestClient, account: str, member: Any, runtime: Runtime
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    token = str(client.cookies.get("selfiam_session"))
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(t.portal_sessions)).all()
    assert len(rows) == 1
    assert rows[0].session_id == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(tuple(rows[0]))


def test_idle_sessions_end(client: TestClient, account: str, member: Any, clock: Any) -> None:
    member("alice")
    sign_in(client, account, "alice")
    clock.now += timedelta(minutes=29)
    assert client.get("/portal/credentials").status_code == 200
    clock.now += timedelta(minutes=29)  # still within 30 minutes of the last request
    assert client.get("/portal/credentials").status_code == 200
    clock.now += timedelta(minutes=31)
    assert _lands_on_signin(client)


def test_sessions_end_after_their_lifetime_however_busy(
    client: TestClient, account: str, member: Any, clock: Any
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    for _ in range(12 * 3 - 1):
        clock.now += timedelta(minutes=20)
        assert client.get("/portal/credentials").status_code == 200
    clock.now += timedelta(minutes=20)
    assert _lands_on_signin(client)


def test_lifetimes_come_from_the_environment(
    runtime: Runtime, tmp_path: Path, account: str, member: Any, clock: Any
) -> None:
    env = {"SELFIAM_PORTAL_IDLE_MINUTES": "5", "SELFIAM_PORTAL_MAX_HOURS": "1"}
    settings = Settings.from_env(env, data_dir=tmp_path)
    assert (settings.portal_idle_minutes, settings.portal_max_hours) == (5, 1)
    member("alice")
    with TestClient(create_app(settings, runtime=runtime)) as c:
        sign_in(c, account, "alice")
        clock.now += timedelta(minutes=6)
        assert _lands_on_signin(c)


def test_a_deleted_users_session_ends_at_once(
    client: TestClient, account: str, member: Any, root_call: Callable[..., Any]
) -> None:
    member("alice", group=None)
    sign_in(client, account, "alice")
    assert client.get("/portal/credentials").status_code == 200
    root_call("DeleteLoginProfile", UserName="alice")
    root_call("DeleteUser", UserName="alice")
    assert _lands_on_signin(client)


def test_a_password_changed_elsewhere_ends_the_session(
    client: TestClient, account: str, member: Any, root_call: Callable[..., Any], clock: Any
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    clock.now += timedelta(seconds=1)
    root_call("UpdateLoginProfile", UserName="alice", Password="Admin-Set-Passw0rd!")
    assert _lands_on_signin(client)


def test_own_password_change_keeps_this_session_and_ends_the_others(
    runtime: Runtime, tmp_path: Path, account: str, member: Any, clock: Any
) -> None:
    from support.portal import app_settings

    member("alice")
    app = create_app(app_settings(tmp_path), runtime=runtime)
    with TestClient(app) as laptop, TestClient(app) as phone:
        sign_in(laptop, account, "alice")
        sign_in(phone, account, "alice")
        clock.now += timedelta(seconds=1)
        r = post_form(
            laptop,
            "/portal/password",
            "/portal/password",
            old_password=PASSWORD,
            new_password="Brand-New-Passw0rd!",
            confirm_password="Brand-New-Passw0rd!",
        )
        assert r.status_code == 303
        assert laptop.get("/portal/credentials").status_code == 200
        assert _lands_on_signin(phone)
