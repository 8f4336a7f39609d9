"""STS AssumeRoleWithWebIdentity against a real HTTPS issuer on loopback (no mocked
verification): every refusal with AWS's error, key rotation, the refetch rate limit
counted at the issuer, a provider deleted while a token is in flight, and the trust
policy's claim conditions (a GitHub-Actions-shaped ``sub``)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from tests.service.conftest import ACCOUNT, Call, credentials_fail, fails

from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.oidc.keys import IssuerKeys
from selfiam.service.runtime import Runtime
from support.clock import Clock
from support.oidc_issuer import AUDIENCE, Issuer, running_issuer

ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci"
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
NOT_VALIDATED = (
    "The web identity token that was passed could not be validated by AWS. Get a new "
    "identity token from the identity provider and then retry the request."
)


class Monotonic:
    """The key cache's clock, moved by the tests (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Issuer]:
    with running_issuer(tmp_path) as running:
        monkeypatch.setenv("SSL_CERT_FILE", str(running.ca_file))
        running.now = lambda: clock().timestamp()
        yield running


@pytest.fixture
def ticks(runtime: Runtime) -> Monotonic:
    clock = Monotonic()
    runtime.issuer_keys = IssuerKeys(clock=clock)
    return clock


def trust_for(issuer: Issuer, sub_pattern: str = "repo:org/repo:ref:refs/heads/*") -> str:
    name = issuer.provider_name
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{name}"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{name}:aud": AUDIENCE},
                        "StringLike": {f"{name}:sub": sub_pattern},
                    },
                }
            ],
        }
    )


@pytest.fixture
def provider(call: Call, issuer: Issuer, ticks: Monotonic) -> str:
    arn = str(
        call("CreateOpenIDConnectProvider", Url=issuer.url, ClientIDList=[AUDIENCE])[
            "OpenIDConnectProviderArn"
        ]
    )
    call("CreateRole", RoleName="ci", AssumeRolePolicyDocument=trust_for(issuer))
    return arn


def assume(runtime: Runtime, token: str, **params: Any) -> dict[str, Any]:
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), service="sts")
    request = {"RoleArn": ROLE, "RoleSessionName": "build-42", "WebIdentityToken": token}
    request.update(params)
    return runtime.invoke("sts", "AssumeRoleWithWebIdentity", request, Caller.unsigned(), info)


def test_a_branch_build_gets_a_role_session(
    runtime: Runtime, call: Call, issuer: Issuer, provider: str
) -> None:
    out = assume(runtime, issuer.token())
    assert out["SubjectFromWebIdentityToken"] == "repo:org/repo:ref:refs/heads/main"
    assert out["Audience"] == AUDIENCE
    assert out["Provider"] == issuer.url
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/build-42"
    creds = out["Credentials"]
    caller, _ = runtime.authenticate_access_key(
        creds["AccessKeyId"], ("20261127", "us-east-1", "sts"), creds["SessionToken"]
    )
    assert caller.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/build-42"
    assert caller.role_arn == ROLE and caller.origin_user_id is None
    identity = call("GetCallerIdentity", caller=caller, service="sts")
    assert identity["Arn"] == caller.arn


def test_a_pull_request_is_refused_by_the_trust_policy(
    runtime: Runtime, issuer: Issuer, provider: str
) -> None:
    token = issuer.token(sub="repo:org/repo:pull_request")
    fails("AccessDenied", NOT_AUTHORIZED, assume, runtime, token)


def test_forged_signature(runtime: Runtime, issuer: Issuer, provider: str) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid}, private=True)
    fails("InvalidIdentityToken", NOT_VALIDATED, assume, runtime, issuer.token(key=forger))


def test_hmac_with_the_public_key_as_secret(
    runtime: Runtime, issuer: Issuer, provider: str
) -> None:
    public = json.dumps(issuer.key.as_dict(private=False)).encode()
    secret = OctKey.import_key(public)
    token = jwt.encode(
        {"alg": "HS256", "kid": issuer.key.kid}, issuer.claims(), secret, algorithms=["HS256"]
    )
    fails("InvalidIdentityToken", NOT_VALIDATED, assume, runtime, token)


def test_alg_none(runtime: Runtime, issuer: Issuer, provider: str) -> None:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(issuer.claims())}."
    fails("InvalidIdentityToken", NOT_VALIDATED, assume, runtime, token)


def test_expired_and_not_yet_valid(
    runtime: Runtime, issuer: Issuer, provider: str, clock: Clock
) -> None:
    now = int(clock().timestamp())
    expired = fails("ExpiredTokenException", None, assume, runtime, issuer.token(exp=now - 120))
    assert expired.message.startswith(f"Token expired: current date/time {now}")
    early = issuer.token(nbf=now + 600, iat=now + 600, exp=now + 900)
    fails("InvalidIdentityToken", NOT_VALIDATED, assume, runtime, early)
    # within the leeway: a clock a little behind the issuer's is tolerated
    assume(runtime, issuer.token(nbf=now + 30, iat=now + 30))


def test_wrong_audience_and_issuer(runtime: Runtime, issuer: Issuer, provider: str) -> None:
    fails(
        "InvalidIdentityToken",
        "Incorrect token audience",
        assume,
        runtime,
        issuer.token(aud="someone-else"),
    )
    assert assume(runtime, issuer.token(aud=["other", AUDIENCE]))["Audience"] == AUDIENCE
    fails(
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://evil.example.com",
        assume,
        runtime,
        issuer.token(iss="https://evil.example.com"),
    )
    # the wrong issuer made selfiam fetch nothing from anywhere
    assert issuer.document_fetches == 1


def test_rotation_and_the_refetch_rate_limit(
    runtime: Runtime, issuer: Issuer, provider: str, ticks: Monotonic
) -> None:
    assume(runtime, issuer.token())
    assert issuer.document_fetches == 1
    rotated = issuer.rotate("key-2")
    ticks.now += 61
    assume(runtime, issuer.token(key=rotated))  # an unknown kid: fetched again, found
    assert issuer.document_fetches == 2
    # A flood of made-up kids within the minute: no fetch at all.
    for n in range(50):
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"made-up-{n}"}, private=True)
        fails("InvalidIdentityToken", None, assume, runtime, issuer.token(key=stranger))
        ticks.now += 1
    assert issuer.document_fetches == 2
    ticks.now += 61
    stranger = RSAKey.generate_key(2048, parameters={"kid": "made-up-x"}, private=True)
    for _ in range(10):
        fails("InvalidIdentityToken", None, assume, runtime, issuer.token(key=stranger))
    assert issuer.document_fetches == 3  # one fetch per minute, whatever the number of tokens
    assume(runtime, issuer.token(key=rotated))


def test_deleting_the_provider_refuses_its_tokens_and_ends_its_sessions(
    runtime: Runtime, call: Call, issuer: Issuer, provider: str
) -> None:
    creds = assume(runtime, issuer.token())["Credentials"]
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    fails(
        "InvalidIdentityToken",
        f"No OpenIDConnect provider found in your account for {issuer.url}",
        assume,
        runtime,
        issuer.token(),
    )
    credentials_fail(runtime, creds, ("20261127", "us-east-1", "sts"), None)


def test_provider_deleted_while_the_token_is_in_flight(
    runtime: Runtime, call: Call, issuer: Issuer, provider: str
) -> None:
    issuer.gate = threading.Event()
    outcome: list[str] = []

    def present() -> None:
        try:
            assume(runtime, issuer.token())
            outcome.append("ok")
        except AwsError as err:
            outcome.append(err.code)

    thread = threading.Thread(target=present)
    thread.start()
    while issuer.fetches["/jwks.json"] == 0:  # verification is now waiting for the keys
        thread.join(timeout=0.01)
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    issuer.gate.set()
    thread.join(timeout=60)
    assert outcome == ["InvalidIdentityToken"]


def test_session_policy_and_duration(runtime: Runtime, issuer: Issuer, provider: str) -> None:
    fails(
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        assume,
        runtime,
        issuer.token(),
        DurationSeconds=7200,
    )
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    out = assume(runtime, issuer.token(), Policy=policy, DurationSeconds=900)
    assert 0 < out["PackedPolicySize"] <= 100


def test_unsigned_caller_is_never_root() -> None:
    caller = Caller.unsigned()
    assert not caller.is_root and caller.principal_type == "Anonymous"


def test_a_web_identity_session_chains_into_another_role(
    runtime: Runtime, call: Call, issuer: Issuer, provider: str
) -> None:
    """A chain started by a token has no IAM user behind it (AssumeRole once asserted
    one: a 500); its sessions end with the provider."""
    creds = assume(runtime, issuer.token())["Credentials"]
    scope = ("20261127", "us-east-1", "sts")
    session, _ = runtime.authenticate_access_key(creds["AccessKeyId"], scope, creds["SessionToken"])
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    call("CreateRole", RoleName="next", AssumeRolePolicyDocument=trust)
    chained = call(
        "AssumeRole",
        caller=session,
        service="sts",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/next",
        RoleSessionName="chained",
    )["Credentials"]
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    for ended in (creds, chained):
        credentials_fail(runtime, ended, scope, None)


# -- the role's tags (issue 15: aws:ResourceTag and iam:ResourceTag, as AssumeRole) ----


def _trust_on_role_tag(issuer: Issuer, key: str) -> str:
    name = issuer.provider_name
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{name}"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{name}:aud": AUDIENCE, key: "ci"},
                        "Null": {"aws:CalledVia": "true"},
                        "Bool": {"aws:ViaAWSService": "false"},
                    },
                }
            ],
        }
    )


@pytest.mark.parametrize("key", ["aws:ResourceTag/use", "iam:ResourceTag/use"])
def test_web_identity_sees_the_roles_tags(
    runtime: Runtime, call: Call, issuer: Issuer, ticks: Monotonic, key: str
) -> None:
    call("CreateOpenIDConnectProvider", Url=issuer.url, ClientIDList=[AUDIENCE])
    call(
        "CreateRole",
        RoleName="ci",
        AssumeRolePolicyDocument=_trust_on_role_tag(issuer, key),
        Tags=[{"Key": "use", "Value": "ci"}],
    )
    assume(runtime, issuer.token())
    call("TagRole", RoleName="ci", Tags=[{"Key": "use", "Value": "other"}])
    fails("AccessDenied", NOT_AUTHORIZED, assume, runtime, issuer.token())


def test_a_source_identity_claim_needs_set_source_identity(
    runtime: Runtime, call: Call, issuer: Issuer, provider: str
) -> None:
    """IAM User Guide, "Permissions required to set source identity": the role's trust
    policy must allow sts:SetSourceIdentity, or the token's source identity claim refuses
    the request."""
    token = issuer.token(**{"https://aws.amazon.com/source_identity": "alice"})
    fails("AccessDenied", NOT_AUTHORIZED, assume, runtime, token)
    allowing = json.loads(trust_for(issuer))
    allowing["Statement"][0]["Action"] = [
        "sts:AssumeRoleWithWebIdentity",
        "sts:SetSourceIdentity",
    ]
    call("UpdateAssumeRolePolicy", RoleName="ci", PolicyDocument=json.dumps(allowing))
    token = issuer.token(**{"https://aws.amazon.com/source_identity": "alice"})
    assert assume(runtime, token)["SourceIdentity"] == "alice"
