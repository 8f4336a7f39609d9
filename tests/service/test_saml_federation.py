"""SAML 2.0 federation: SAML providers and sts:AssumeRoleWithSAML against a real IdP.

The IdP is pysaml2 (tests/support/saml_idp.py) signing with xmlsec1; selfiam verifies
with signxml. Nothing is mocked. Cases cite AWS's documentation:
[api] STS API Reference, AssumeRoleWithSAML (answer fields, NameQualifier's formula,
  DurationSeconds vs. MaxSessionDuration).
[assert] IAM User Guide, "Configure SAML assertions for the authentication response"
  (Role pairs in either order, RoleSessionName, PrincipalTag:, TransitiveTagKeys).
[trouble] "Troubleshoot SAML federation with IAM" (error codes and messages).
[keys] "Available keys for SAML-based federation" (saml:aud, saml:sub, saml:namequalifier...).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.service.conftest import ACCOUNT, Call, Clock, credentials_fail, fails

from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from support.saml_idp import ATTR, OTHER_SP, SamlIdp, aws_attributes, encode

PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/engineers"
STS = ("20261201", "us-east-1", "sts")
AUD = "https://signin.aws.amazon.com/saml"
SIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
BAD_SIGNATURE = "Response signature invalid"


def trust(**condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {"StringEquals": {"saml:aud": AUD, **condition}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SamlIdp:
    return SamlIdp(tmp_path_factory.mktemp("idp"))


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> SamlIdp:
    """Same entity id, its own key: what an attacker without the IdP's key can sign."""
    return SamlIdp(tmp_path_factory.mktemp("forger"), name="forger")


@pytest.fixture
def world(call: Call, clock: Clock, idp: SamlIdp) -> Call:
    # pysaml2 stamps responses with the real time; selfiam's clock follows it.
    clock.now = datetime.now(UTC).replace(microsecond=0)
    call("CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp.metadata)
    call("CreateRole", RoleName="engineers", AssumeRolePolicyDocument=trust())
    return call


def saml(runtime: Runtime, assertion: str, role: str = ROLE, **params: Any) -> dict[str, Any]:
    """AssumeRoleWithSAML as the API runs it: unsigned, for the account's anonymous caller."""
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), service="sts")
    request = {"RoleArn": role, "PrincipalArn": PROVIDER, "SAMLAssertion": assertion, **params}
    return runtime.invoke("sts", "AssumeRoleWithSAML", request, Caller.unsigned(), info)


def good(idp: SamlIdp, **more: list[str]) -> str:
    return idp.response(aws_attributes(ROLE, PROVIDER, **more))


def issued_at(response: str) -> datetime:
    """The IssueInstant pysaml2 stamped (the real time when it signed)."""
    root = etree.fromstring(base64.b64decode(response))
    instant = root.find(ASSERTION).get("IssueInstant")
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def session_caller(runtime: Runtime, answer: dict[str, Any]) -> Caller:
    creds = answer["Credentials"]
    return runtime.authenticate_access_key(creds["AccessKeyId"], STS, creds["SessionToken"])[0]


# -- the providers ------------------------------------------------------------------------


def test_provider_operations(call: Call, idp: SamlIdp, clock: Clock) -> None:
    created = call(
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=idp.metadata,
        Tags=[{"Key": "team", "Value": "sec"}],
    )
    assert created == {"SAMLProviderArn": PROVIDER, "Tags": [{"Key": "team", "Value": "sec"}]}
    got = call("GetSAMLProvider", SAMLProviderArn=PROVIDER)
    assert got["SAMLMetadataDocument"] == idp.metadata
    assert got["CreateDate"] == clock.now
    assert got["ValidUntil"] == clock.now + timedelta(days=36500)  # no validUntil given
    assert got["Tags"] == [{"Key": "team", "Value": "sec"}]
    listed = call("ListSAMLProviders")["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [PROVIDER]
    fails(
        "EntityAlreadyExists",
        "SAMLProvider CORP already exists.",
        call,
        "CreateSAMLProvider",
        Name="CORP",
        SAMLMetadataDocument=idp.metadata,
    )
    call("TagSAMLProvider", SAMLProviderArn=PROVIDER, Tags=[{"Key": "env", "Value": "prod"}])
    call("UntagSAMLProvider", SAMLProviderArn=PROVIDER, TagKeys=["team"])
    tags = call("ListSAMLProviderTags", SAMLProviderArn=PROVIDER)["Tags"]
    assert tags == [{"Key": "env", "Value": "prod"}]
    dated = idp.metadata.replace('entityID="', 'validUntil="2031-01-01T00:00:00Z" entityID="', 1)
    assert call("UpdateSAMLProvider", SAMLProviderArn=PROVIDER, SAMLMetadataDocument=dated) == {
        "SAMLProviderArn": PROVIDER
    }
    assert call("GetSAMLProvider", SAMLProviderArn=PROVIDER)["ValidUntil"] == datetime(
        2031, 1, 1, tzinfo=UTC
    )
    call("DeleteSAMLProvider", SAMLProviderArn=PROVIDER)
    missing = f"Manifest not found for arn {PROVIDER}"
    fails("NoSuchEntity", missing, call, "GetSAMLProvider", SAMLProviderArn=PROVIDER)
    assert call("ListSAMLProviders")["SAMLProviderList"] == []


@pytest.mark.parametrize(
    "document",
    [
        "<not xml" + " " * 1000,
        # a DTD with an entity (billion laughs shaped): refused before any expansion
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>' + " " * 1000,
        # an SP's metadata, not an IdP's
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
        "</md:EntityDescriptor>" + " " * 1000,
    ],
    ids=["not-xml", "dtd", "no-idp"],
)
def test_bad_metadata_is_refused_and_nothing_is_written(call: Call, document: str) -> None:
    fails(
        "InvalidInput",
        "Could not parse metadata.",
        call,
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=document,
    )
    assert call("ListSAMLProviders")["SAMLProviderList"] == []


def test_metadata_without_a_signing_certificate_is_refused(call: Call, idp: SamlIdp) -> None:
    tree = etree.fromstring(idp.metadata.encode())
    for key in tree.iter("{urn:oasis:names:tc:SAML:2.0:metadata}KeyDescriptor"):
        key.getparent().remove(key)
    document = etree.tostring(tree).decode() + " " * 1000
    fails(
        "InvalidInput",
        "Could not parse metadata.",
        call,
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=document,
    )


# -- AssumeRoleWithSAML: a good assertion --------------------------------------------------


def test_good_assertion_gives_a_role_session(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    answer = saml(runtime, good(idp, PrincipalTag__team=["ops"], SourceIdentity=["alice"]))
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/engineers/alice"
    )
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["Subject"] == "alice@example.test"
    assert answer["SubjectType"] == "persistent"
    assert answer["Issuer"] == idp.entity_id
    assert answer["Audience"] == AUD
    assert answer["SourceIdentity"] == "alice"
    expected = base64.b64encode(
        hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/corp".encode()).digest()
    ).decode()
    assert answer["NameQualifier"] == expected  # [api] BASE64(SHA1(issuer+account+"/"+name))
    caller = session_caller(runtime, answer)
    identity = world("GetCallerIdentity", service="sts", caller=caller)
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/engineers/alice"
    assert dict(caller.principal_tags)["team"] == "ops"


def test_role_pair_may_be_written_provider_first(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    attributes = aws_attributes(ROLE, PROVIDER)
    attributes[ATTR + "Role"] = [
        f"{PROVIDER},arn:aws:iam::{ACCOUNT}:role/other",
        f"{PROVIDER},{ROLE}",
    ]
    assert saml(runtime, idp.response(attributes))["AssumedRoleUser"]["Arn"].endswith(
        "/engineers/alice"
    )


def test_response_signed_only_at_the_response_level_is_accepted(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    response = idp.response(aws_attributes(ROLE, PROVIDER), sign_assertion=False)
    assert saml(runtime, response)["Subject"] == "alice@example.test"


def test_duration_is_capped_by_max_session_duration(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    fails(
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        saml,
        runtime,
        good(idp),
        DurationSeconds=7200,
    )
    answer = saml(runtime, good(idp), DurationSeconds=900)
    assert answer["Credentials"]["Expiration"] == runtime.clock() + timedelta(seconds=900)


# -- refusals ----------------------------------------------------------------------------


def test_forged_signature_is_refused(world: Call, runtime: Runtime, forger: SamlIdp) -> None:
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, good(forger))


def test_unsigned_response_is_refused(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    unsigned = idp.response(
        aws_attributes(ROLE, PROVIDER), sign_response=False, sign_assertion=False
    )
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, unsigned)


def test_tampered_signed_assertion_is_refused(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    xml = idp.response_xml(aws_attributes(ROLE, PROVIDER), sign_response=False)
    tampered = xml.replace("alice@example.test", "mallory@example.test")
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, encode(tampered))


def _evil_assertion(signed: Any) -> Any:
    """A copy of a signed assertion, unsigned, for mallory (what an attacker can write)."""
    evil = etree.fromstring(etree.tostring(signed))
    for sig in evil.findall(SIG):
        evil.remove(sig)
    for name_id in evil.iter("{urn:oasis:names:tc:SAML:2.0:assertion}NameID"):
        name_id.text = "mallory@example.test"
    return evil


def test_signature_wrapping_second_assertion_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    """An unsigned assertion inserted before the signed one (assertion-level signature)."""
    root = etree.fromstring(
        idp.response_xml(aws_attributes(ROLE, PROVIDER), sign_response=False).encode()
    )
    signed = root.find(ASSERTION)
    evil = _evil_assertion(signed)
    evil.set("ID", "evil-1")
    signed.addprevious(evil)
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, encode(etree.tostring(root)))


def test_signature_wrapping_moved_assertion_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    """The signed assertion moved into the evil one's signature, the evil one taking its
    ID and its Signature: the signature then covers only a copy inside it."""
    root = etree.fromstring(
        idp.response_xml(aws_attributes(ROLE, PROVIDER), sign_response=False).encode()
    )
    signed = root.find(ASSERTION)
    evil = _evil_assertion(signed)
    signature = etree.fromstring(etree.tostring(signed.find(SIG)))
    obj = etree.SubElement(signature, "{http://www.w3.org/2000/09/xmldsig#}Object")
    obj.append(etree.fromstring(etree.tostring(signed)))
    evil.insert(1, signature)
    root.replace(signed, evil)
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, encode(etree.tostring(root)))


def test_signature_wrapping_of_a_signed_response_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    """XSW on a response-level signature: a new Response (its own ID) around an evil
    assertion, keeping the IdP's Signature as its child and the original Response,
    without its Signature, inside. The signature still verifies — of that inner element,
    which is not the root: refused (and only the signed element would ever be read)."""
    original = etree.fromstring(
        idp.response_xml(aws_attributes(ROLE, PROVIDER), sign_assertion=False).encode()
    )
    inner = etree.fromstring(etree.tostring(original))
    inner.remove(inner.find(SIG))
    wrapper = etree.fromstring(etree.tostring(original))
    wrapper.set("ID", "wrapper-1")
    old = wrapper.find(ASSERTION)
    wrapper.replace(old, _evil_assertion(old))
    extensions = etree.SubElement(wrapper, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    extensions.append(inner)
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, encode(etree.tostring(wrapper)))


def test_expired_assertion_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp, clock: Clock
) -> None:
    response = good(idp)
    clock.now = issued_at(response) + timedelta(minutes=11)  # 5 minutes' lifetime, 5 of skew
    fails("ExpiredTokenException", "Response has expired", saml, runtime, response)


def test_assertion_must_be_redeemed_within_five_minutes(
    world: Call, runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    slow = SamlIdp(tmp_path / "slow", lifetime_minutes=60)
    world("UpdateSAMLProvider", SAMLProviderArn=PROVIDER, SAMLMetadataDocument=slow.metadata)
    response = good(slow)
    clock.now = issued_at(response) + timedelta(minutes=11)
    fails(
        "ExpiredTokenException",
        "Token must be redeemed within 5 minutes of issuance",
        saml,
        runtime,
        response,
    )


def test_not_yet_valid_assertion_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp, clock: Clock
) -> None:
    response = good(idp)
    clock.now = issued_at(response) - timedelta(minutes=6)
    fails("InvalidIdentityToken", "Response is not yet valid", saml, runtime, response)


def test_wrong_audience_is_refused(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    other = idp.response(aws_attributes(ROLE, PROVIDER), sp=OTHER_SP, destination=OTHER_SP)
    fails(
        "InvalidIdentityToken",
        "Response does not contain the required audience.",
        saml,
        runtime,
        other,
    )


def test_configured_audience_is_accepted(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    """selfiam accepts AWS's audiences and the operator's (SELFIAM_SAML_AUDIENCE)."""
    runtime.saml_audience = OTHER_SP
    world(
        "UpdateAssumeRolePolicy",
        RoleName="engineers",
        PolicyDocument=trust(**{"saml:aud": OTHER_SP}),
    )
    other = idp.response(aws_attributes(ROLE, PROVIDER), sp=OTHER_SP, destination=OTHER_SP)
    assert saml(runtime, other)["Audience"] == OTHER_SP


def test_replayed_assertion_is_refused(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    response = good(idp)
    saml(runtime, response)
    fails("InvalidIdentityToken", None, saml, runtime, response)


def test_refused_attempt_does_not_burn_the_assertion(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    response = good(idp)
    fails("ValidationError", None, saml, runtime, response, DurationSeconds=7200)
    assert saml(runtime, response)["Subject"] == "alice@example.test"


def test_role_not_in_the_role_attribute_is_refused(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    world("CreateRole", RoleName="admins", AssumeRolePolicyDocument=trust())
    admins = f"arn:aws:iam::{ACCOUNT}:role/admins"
    fails(
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithSAML",
        saml,
        runtime,
        good(idp),
        role=admins,
    )


def test_deleted_provider_is_refused(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    response = good(idp)
    world("DeleteSAMLProvider", SAMLProviderArn=PROVIDER)
    fails("InvalidIdentityToken", "Specified provider doesn't exist.", saml, runtime, response)


def test_session_name_is_required_and_validated(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    attributes = aws_attributes(ROLE, PROVIDER)
    del attributes[ATTR + "RoleSessionName"]
    fails(
        "InvalidIdentityToken",
        "RoleSessionName is required in AuthnResponse",
        saml,
        runtime,
        idp.response(attributes),
    )
    fails(
        "InvalidIdentityToken",
        "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
        saml,
        runtime,
        idp.response(aws_attributes(ROLE, PROVIDER, session_name="a b")),
    )


def test_trust_policy_conditions_on_sub_and_aud(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    world(
        "UpdateAssumeRolePolicy",
        RoleName="engineers",
        PolicyDocument=trust(**{"saml:sub": "bob@example.test"}),
    )
    denied = (
        f"User: {PROVIDER} is not authorized to perform: sts:AssumeRoleWithSAML on resource: {ROLE}"
    )
    fails("AccessDenied", denied, saml, runtime, good(idp))
    world(
        "UpdateAssumeRolePolicy",
        RoleName="engineers",
        PolicyDocument=trust(
            **{
                "saml:sub": "alice@example.test",
                "saml:sub_type": "persistent",
                "saml:iss": idp.entity_id,
            }
        ),
    )
    assert saml(runtime, good(idp))["Subject"] == "alice@example.test"
    wrong_aud = json.loads(trust())
    wrong_aud["Statement"][0]["Condition"]["StringEquals"]["saml:aud"] = "https://elsewhere"
    world("UpdateAssumeRolePolicy", RoleName="engineers", PolicyDocument=json.dumps(wrong_aud))
    fails("AccessDenied", denied, saml, runtime, good(idp))


def test_namequalifier_and_edu_keys_in_the_trust_policy(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    qualifier = base64.b64encode(
        hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/corp".encode()).digest()
    ).decode()
    world(
        "UpdateAssumeRolePolicy",
        RoleName="engineers",
        PolicyDocument=trust(
            **{"saml:namequalifier": qualifier, "saml:edupersonorgdn": "o=Example"}
        ),
    )
    attributes = aws_attributes(ROLE, PROVIDER)
    attributes["urn:oid:1.3.6.1.4.1.5923.1.1.1.3"] = ["o=Example"]
    assert saml(runtime, idp.response(attributes))["NameQualifier"] == qualifier


def test_transitive_tag_keys_must_be_session_tags(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    fails(
        "InvalidIdentityToken",
        None,
        saml,
        runtime,
        good(idp, PrincipalTag__team=["ops"], TransitiveTagKeys=["project"]),
    )
    answer = saml(runtime, good(idp, PrincipalTag__team=["ops"], TransitiveTagKeys=["team"]))
    assert answer["PackedPolicySize"] >= 1


def test_malformed_session_policy(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    fails("MalformedPolicyDocument", None, saml, runtime, good(idp), Policy="{not json")


def test_redeemed_assertions_are_pruned_once_expired(
    world: Call, runtime: Runtime, idp: SamlIdp, clock: Clock
) -> None:
    """Remembered ids past their expiry go with the next redemption (bounded table)."""
    from sqlalchemy import select

    from selfiam.store import tables as t
    from selfiam.store.engine import read_transaction, transaction

    used = t.saml_assertions_used
    with transaction(runtime.engine) as conn:  # one redeemed long ago
        conn.execute(
            used.insert().values(
                digest="0" * 64, account_id=ACCOUNT, expires_at=clock.now - timedelta(seconds=1)
            )
        )
    response = good(idp)
    saml(runtime, response)
    with read_transaction(runtime.engine) as conn:
        digests = conn.execute(select(used.c.digest, used.c.expires_at)).all()
    assert len(digests) == 1 and digests[0].digest != "0" * 64
    # remembered until the assertion can no longer be redeemed: 5 minutes' lifetime and 5
    # of skew after pysaml2 signed it (the real time then, which a loaded machine puts a
    # second or more after the test clock's start)
    assert digests[0].expires_at <= issued_at(response) + timedelta(minutes=10)


def _next_role(world: Call) -> str:
    """A role the engineers' sessions may assume in turn."""
    # The source identity a SAML session carries down the chain needs sts:SetSourceIdentity.
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    statement = {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": actions}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    world("CreateRole", RoleName="next", AssumeRolePolicyDocument=policy)
    return f"arn:aws:iam::{ACCOUNT}:role/next"


def test_a_saml_session_may_chain_to_another_role(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    next_role = _next_role(world)
    answer = saml(runtime, good(idp, SourceIdentity=["alice"]))
    caller = session_caller(runtime, answer)
    chained = world(
        "AssumeRole", service="sts", caller=caller, RoleArn=next_role, RoleSessionName="hop"
    )
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/next/hop"
    assert chained["SourceIdentity"] == "alice"
    fails(
        "AccessDenied",
        None,
        world,
        "AssumeRole",
        service="sts",
        caller=caller,
        RoleArn=next_role,
        RoleSessionName="hop",
        SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/none",
        TokenCode="123456",
    )


def test_deleting_the_provider_ends_its_sessions_and_their_chains(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    """As for an OpenID Connect provider: the sessions its responses started, and those
    chained from them, end with it (role_sessions.saml_provider_id cascades)."""
    next_role = _next_role(world)
    creds = saml(runtime, good(idp))["Credentials"]
    chained = world(
        "AssumeRole",
        service="sts",
        caller=session_caller(runtime, {"Credentials": creds}),
        RoleArn=next_role,
        RoleSessionName="hop",
    )["Credentials"]
    world("DeleteSAMLProvider", SAMLProviderArn=PROVIDER)
    for ended in (creds, chained):
        credentials_fail(runtime, ended, STS, None)


def test_updated_metadata_takes_effect_at_once(
    world: Call, runtime: Runtime, idp: SamlIdp, forger: SamlIdp
) -> None:
    """Parsed metadata is cached by the document's hash: a new document (a rotated key)
    is what the very next request verifies with."""
    saml(runtime, good(idp))
    world("UpdateSAMLProvider", SAMLProviderArn=PROVIDER, SAMLMetadataDocument=forger.metadata)
    fails("InvalidIdentityToken", BAD_SIGNATURE, saml, runtime, good(idp))
    assert saml(runtime, good(forger))["Issuer"] == forger.entity_id


def test_mangled_responses_get_aws_errors_never_a_crash(idp: SamlIdp) -> None:
    """300 seeded mutations of a signed response (bytes flipped, cut, spliced): each is
    verified or refused with an AWS error; nothing else escapes (no 500)."""
    import random

    from selfiam.domain.errors import AwsError
    from selfiam.service.saml.claims import read_claims
    from selfiam.service.saml.metadata import parse_metadata
    from selfiam.service.saml.response import verify_response

    certificates = parse_metadata(idp.metadata).certificates
    xml = idp.response_xml(aws_attributes(ROLE, PROVIDER)).encode()
    now = issued_at(encode(xml))
    rnd = random.Random(12)
    outcomes: dict[str, int] = {}
    for _ in range(300):
        mangled = bytearray(xml)
        start = rnd.randrange(len(mangled))
        kind = rnd.randrange(3)
        if kind == 0:
            mangled[start] = rnd.randrange(256)
        elif kind == 1:
            del mangled[start : start + rnd.randrange(1, 200)]
        else:
            mangled[start:start] = xml[rnd.randrange(len(xml)) :][: rnd.randrange(1, 100)]
        try:
            read_claims(verify_response(encode(bytes(mangled)), certificates, now))
            code = "verified"
        except AwsError as error:
            code = error.code
        outcomes[code] = outcomes.get(code, 0) + 1
    assert sum(outcomes.values()) == 300
    assert outcomes.get("InvalidIdentityToken", 0) > 200


def test_audit_names_the_identity_provider(world: Call, runtime: Runtime, idp: SamlIdp) -> None:
    from sqlalchemy import select

    from selfiam.store import tables as t
    from selfiam.store.engine import read_transaction

    saml(runtime, good(idp))
    runtime.audit.flush()
    a = t.audit_records
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(
            select(a.c.caller_arn, a.c.resource, a.c.decision).where(
                a.c.action == "sts:AssumeRoleWithSAML"
            )
        ).one()
    assert tuple(row) == (PROVIDER, ROLE, "allowed")


def test_a_source_identity_attribute_needs_set_source_identity(
    world: Call, runtime: Runtime, idp: SamlIdp
) -> None:
    """IAM User Guide, "Permissions required to set source identity": without
    sts:SetSourceIdentity in the trust policy, an assertion carrying SourceIdentity is
    refused; the same assertion without it is not."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"saml:aud": AUD}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    world("UpdateAssumeRolePolicy", RoleName="engineers", PolicyDocument=policy)
    refused = fails("AccessDenied", None, saml, runtime, good(idp, SourceIdentity=["alice"]))
    assert refused.message.startswith(
        f"User: {PROVIDER} is not authorized to perform: sts:SetSourceIdentity on resource: "
    )
    assert "SourceIdentity" not in saml(runtime, good(idp))
