"""Signing in to the portal with a passkey (service layer): the MFA step, passwordless
sign-in, what the session is to the policy engine, and what the audit trail records —
on SQLite and PostgreSQL (the challenge, the counter and the throttle rows are locked)."""

from __future__ import annotations

import pytest
from tests.service.conftest import ACCOUNT, Call
from tests.service.test_throttles import PASSWORD, any_runtime  # noqa: F401 (a fixture)

from selfiam.service.audit import read_records
from selfiam.service.passkey_signin import (
    INVALID_PASSKEY,
    NOT_ENABLED,
    begin_mfa,
    begin_passwordless,
    begin_registration,
    complete_mfa_passkey,
    sign_in_passwordless,
)
from selfiam.service.passkeys import RelyingParty
from selfiam.service.portal_sessions import PortalConfig, PortalSession
from selfiam.service.portal_signin import SignedIn, SignInRefused, sign_in
from selfiam.service.runtime import Runtime
from support.authenticator import SoftAuthenticator

RP = RelyingParty(rp_id="localhost", origin="http://localhost:8000")
CONFIG = PortalConfig()
NONCE = "a-sign-in-nonce-of-the-browser"


@pytest.fixture
def runtime(any_runtime: Runtime) -> Runtime:  # noqa: F811 (the fixture, by name)
    """On SQLite and PostgreSQL, with alice and her password (test_throttles')."""
    return any_runtime


def _password_step(runtime: Runtime, user: str) -> PortalSession:
    signed = sign_in(runtime, CONFIG, ACCOUNT, user, PASSWORD, runtime.clock())
    return signed.session


@pytest.fixture
def member(call: Call, runtime: Runtime) -> tuple[SoftAuthenticator, PortalSession]:
    """alice with a password and a passkey; her session waiting for the MFA step."""
    session = _password_step(runtime, "alice")
    assert session.stage == "active"  # no MFA device yet
    key = SoftAuthenticator()
    options = begin_registration(runtime, session, RP, "laptop", runtime.clock())
    call(
        "RegisterPasskey",
        service="selfiam",
        UserName="alice",
        Binding=f"session:{session.session_id}",
        RpId=RP.rp_id,
        Origin=RP.origin,
        Credential=key.register(options),
    )
    waiting = _password_step(runtime, "alice")
    assert waiting.stage == "mfa"
    return key, waiting


def _mfa(runtime: Runtime, session: PortalSession, response: str) -> SignedIn:
    return complete_mfa_passkey(runtime, CONFIG, session, response, RP, runtime.clock())


def _audit_codes(runtime: Runtime) -> list[str | None]:
    runtime.audit.flush()
    records = read_records(runtime.engine, action="signin:ConsoleLoginMFA")
    return [r.error_code for r in records]


def test_the_passkey_step_opens_an_mfa_session(
    runtime: Runtime, member: tuple[SoftAuthenticator, PortalSession]
) -> None:
    key, waiting = member
    options = begin_mfa(runtime, waiting, RP, runtime.clock())
    signed = _mfa(runtime, waiting, key.assert_(options))
    assert signed.session.stage == "active"
    assert signed.session.mfa_authenticated_at == runtime.clock()
    caller = signed.session.caller()
    assert caller.mfa_authenticated_at == runtime.clock() and caller.via_console
    assert _audit_codes(runtime)[0] is None


def test_a_cloned_passkey_is_refused_and_audited(
    runtime: Runtime, member: tuple[SoftAuthenticator, PortalSession]
) -> None:
    key, waiting = member
    options = begin_mfa(runtime, waiting, RP, runtime.clock())
    _mfa(runtime, waiting, key.assert_(options, counter=5))
    waiting = _password_step(runtime, "alice")
    options = begin_mfa(runtime, waiting, RP, runtime.clock())
    with pytest.raises(SignInRefused, match=INVALID_PASSKEY):
        _mfa(runtime, waiting, key.assert_(options, counter=4))
    assert _audit_codes(runtime)[0] == "SignatureCounterRegression"


def test_a_response_to_another_sessions_challenge_is_refused(
    runtime: Runtime, member: tuple[SoftAuthenticator, PortalSession]
) -> None:
    key, waiting = member
    other = _password_step(runtime, "alice")
    options = begin_mfa(runtime, other, RP, runtime.clock())
    with pytest.raises(SignInRefused):
        _mfa(runtime, waiting, key.assert_(options))


def test_passwordless_needs_the_accounts_consent_and_user_verification(
    call: Call, runtime: Runtime, member: tuple[SoftAuthenticator, PortalSession]
) -> None:
    key, _ = member

    def attempt() -> SignedIn:
        options = begin_passwordless(runtime, NONCE, RP, runtime.clock())
        return sign_in_passwordless(
            runtime, CONFIG, NONCE, key.assert_(options), RP, runtime.clock()
        )

    with pytest.raises(SignInRefused, match=NOT_ENABLED):
        attempt()
    call("UpdateAccountSignInSettings", service="selfiam", PasswordlessSignIn=True)
    signed = attempt()
    assert signed.session.user_name == "alice" and signed.session.mfa_authenticated_at
    key.user_verified = False  # presence alone is not enough without a password
    with pytest.raises(SignInRefused, match=INVALID_PASSKEY):
        attempt()
    # A response for another sign-in nonce's challenge is refused too.
    key.user_verified = True
    options = begin_passwordless(runtime, "another-browser-nonce", RP, runtime.clock())
    with pytest.raises(SignInRefused):
        sign_in_passwordless(runtime, CONFIG, NONCE, key.assert_(options), RP, runtime.clock())
