"""The portal's passkey pages without a browser: the relying party they name, a bad
name refused before any challenge, forms that work without JavaScript, and
``selfiam serve --public-url``."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient

from selfiam.app import create_app
from selfiam.cli.main import cli
from selfiam.service.passkeys import RelyingParty
from selfiam.service.runtime import Runtime
from support.portal import app_settings, post_form, sign_in


def _options(page: str) -> dict[str, Any]:
    start = page.index('data-webauthn-options="') + len('data-webauthn-options="')
    return dict(json.loads(html.unescape(page[start : page.index('"', start)])))


def _begin(client: TestClient, name: str) -> Any:
    return post_form(
        client, "/portal/credentials/passkeys/begin", "/portal/credentials", PasskeyName=name
    )


def test_the_rp_id_is_the_requests_host_by_default(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    page = _begin(client, "laptop")
    assert page.status_code == 200
    options = _options(page.text)
    assert options["rp"]["id"] == "testserver"
    assert options["attestation"] == "none"
    assert "Passkeys need a browser with JavaScript" in page.text  # shown without JS


def test_the_public_url_names_the_relying_party(
    runtime: Runtime, tmp_path: Path, account: str, member: Any
) -> None:
    settings = replace(app_settings(tmp_path), public_url="https://iam.example.com")
    with TestClient(create_app(settings, runtime=runtime), base_url="http://testserver") as c:
        member("alice")
        sign_in(c, account, "alice")
        assert _options(_begin(c, "laptop").text)["rp"]["id"] == "iam.example.com"
    rp = RelyingParty.from_url("http://localhost:8000")
    assert (rp.rp_id, rp.origin) == ("localhost", "http://localhost:8000")


def test_a_bad_passkey_name_is_refused_before_any_prompt(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    page = _begin(client, "my key")
    assert page.status_code == 400 and "data-webauthn" not in page.text
    assert "no spaces" in page.text


def test_serve_refuses_an_ip_address_as_public_url() -> None:
    result = CliRunner().invoke(cli, ["serve", "--public-url", "http://127.0.0.1:8000"])
    assert result.exit_code == 2 and "not an IP address" in result.output
    result = CliRunner().invoke(cli, ["serve", "--public-url", "ftp://iam.example.com"])
    assert result.exit_code == 2 and "http://" in result.output
