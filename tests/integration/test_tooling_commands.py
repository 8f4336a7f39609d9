"""``selfiam setup self-service``, ``onboard`` and ``offboard`` as subprocesses over HTTP.

Each command runs as ``python -m selfiam.cli ... --endpoint-url URL`` with credentials in the
environment, exactly as against AWS, and each test runs twice: against a live selfiam server
and against moto_server (PyPI's moto), a second, independent IAM implementation.

Where moto lacks an operation the commands tolerate it the way they would any endpoint's:
ListServiceSpecificCredentials (moto answers an HTML error page; selfiam answers
InvalidAction) is reported as "not supported by this endpoint"; moto has no
PutUserPermissionsBoundary, so its offboarded user has no boundary to remove; and moto drops
PasswordResetRequired on CreateLoginProfile, which `onboard` notices and sets again.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError
from tests.domain.test_certificates import make_certificate
from tests.domain.test_ssh_keys import openssh, rsa_public_key

from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, PasswordPolicy, violations
from selfiam.tooling.setup import MFA_STATEMENT_SID, self_service_policy
from support.moto import moto_server
from support.server import LiveServer

pytestmark = pytest.mark.slow


@dataclass
class Endpoint:
    kind: str  # "selfiam" or "moto"
    url: str
    account: str
    env: dict[str, str]
    iam: Any
    server: LiveServer | None = None

    def run(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "selfiam.cli", *args, "--endpoint-url", self.url],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "selfiam.cli", *args, "--endpoint-url", self.url],
            env={**self.env, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def on_selfiam(server: LiveServer) -> Endpoint:
    return Endpoint(
        "selfiam", server.endpoint, server.account_id, server.cli_env(), server.client(), server
    )


@pytest.fixture(scope="module", params=["selfiam", "moto"])
def endpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    if request.param == "selfiam":
        yield on_selfiam(request.getfixturevalue("sqlite_server"))
        return
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield Endpoint("moto", moto.endpoint, moto.account_id, moto.cli_env(), moto.client())


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# --- setup self-service ----------------------------------------------------------------------


def test_setup_self_service_is_idempotent_and_keeps_five_versions(endpoint: Endpoint) -> None:
    iam, account = endpoint.iam, endpoint.account
    arn = f"arn:aws:iam::{account}:policy/TeamSelfService"
    args = ("setup", "self-service", "--group", "Team", "--policy-name", "TeamSelfService")

    dry = ok(endpoint.run(*args, "--dry-run"))
    assert f"would create: policy {arn}" in dry
    assert "would create: group Team" in dry
    assert "none made" in dry
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert code_of(exc) == "NoSuchEntity"

    first = ok(endpoint.run(*args))
    assert f"created: policy {arn}" in first
    assert "created: group Team" in first
    assert f"attached: policy {arn} attached to group Team" in first
    attached = iam.list_attached_group_policies(GroupName="Team")["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [arn]
    document = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert document == self_service_policy(require_mfa=True)

    second = ok(endpoint.run(*args))
    assert second.count("unchanged: ") == 3, second
    assert "nothing to change" in second
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1

    relaxed = ok(endpoint.run(*args, "--no-require-mfa"))
    assert f"updated: policy {arn}" in relaxed and "v2 default version" in relaxed
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v2"
    current = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"]
    assert MFA_STATEMENT_SID not in {s.get("Sid") for s in current["Statement"]}
    assert "unchanged" in ok(endpoint.run(*args, "--no-require-mfa")).splitlines()[0]

    # Six more changes in a row: never more than IAM's five versions, the oldest goes first.
    outputs = []
    for n in range(6):
        flag = "--require-mfa" if n % 2 == 0 else "--no-require-mfa"
        outputs.append(ok(endpoint.run(*args, flag)))
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        assert len(versions) <= 5
        default = [v["VersionId"] for v in versions if v["IsDefaultVersion"]]
        assert default == [f"v{n + 3}"], outputs[-1]
    assert "oldest version" not in outputs[2]
    assert "v6 default version; oldest version v1 deleted first" in outputs[3]
    assert "oldest version v3 deleted first" in outputs[5]
    kept = sorted(v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"])
    assert kept == ["v4", "v5", "v6", "v7", "v8"]


def test_setup_on_a_fresh_selfiam_finds_inits_group_current(sqlite_server: LiveServer) -> None:
    """`selfiam init` makes SelfService from the same document: nothing to change."""
    out = ok(on_selfiam(sqlite_server).run("setup", "self-service"))
    assert out.count("unchanged: ") == 3, out
    assert "nothing to change" in out


# --- onboard ---------------------------------------------------------------------------------


@pytest.fixture
def strict_password_policy(endpoint: Endpoint) -> Iterator[PasswordPolicy]:
    settings = {
        "MinimumPasswordLength": 24,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
    }
    endpoint.iam.update_account_password_policy(**settings)
    yield PasswordPolicy.from_params(settings)
    endpoint.iam.delete_account_password_policy()


def test_onboard_writes_a_private_file(
    endpoint: Endpoint, strict_password_policy: PasswordPolicy, tmp_path: Path
) -> None:
    iam = endpoint.iam
    iam.create_group(GroupName="Onboarded")
    out_file = tmp_path / "olga.json"
    result = endpoint.run(
        "onboard", "olga", "--group", "Onboarded", "--tag", "team=platform", "--tag",
        "cost-centre=", "--path", "/staff/", "--output", str(out_file),
    )  # fmt: skip
    stdout = ok(result)
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    facts = json.loads(out_file.read_text())
    assert facts["password"] not in stdout + result.stderr
    assert str(out_file) in stdout
    if endpoint.kind == "selfiam":
        assert "ignored PasswordResetRequired" not in stdout
    assert facts["sign_in_url"] == f"{endpoint.url}/portal/signin?account={endpoint.account}"
    assert facts["user_name"] == "olga" and facts["groups"] == ["Onboarded"]
    assert violations(facts["password"], strict_password_policy, "olga") == []

    user = iam.get_user(UserName="olga")["User"]
    assert user["Path"] == "/staff/"
    assert facts["arn"] == user["Arn"] == f"arn:aws:iam::{endpoint.account}:user/staff/olga"
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="olga")["Tags"]}
    assert tags == {"team": "platform", "cost-centre": ""}
    assert iam.get_login_profile(UserName="olga")["LoginProfile"]["PasswordResetRequired"]
    groups = iam.list_groups_for_user(UserName="olga")["Groups"]
    assert [g["GroupName"] for g in groups] == ["Onboarded"]

    # The file is never overwritten: refused before any user is created.
    again = endpoint.run("onboard", "olga2", "--output", str(out_file))
    assert again.returncode != 0 and "cannot create" in again.stderr
    assert json.loads(out_file.read_text()) == facts
    with pytest.raises(ClientError):
        iam.get_user(UserName="olga2")


def test_onboard_prints_the_password_once_and_checks_groups_first(endpoint: Endpoint) -> None:
    stdout = ok(endpoint.run("onboard", "pete"))
    lines = [line for line in stdout.splitlines() if line.startswith("temporary password")]
    assert len(lines) == 1
    password = lines[0].rsplit(": ", 1)[1]

    assert violations(password, AWS_DEFAULT_POLICY, "pete") == []
    url = f"{endpoint.url}/portal/signin?account={endpoint.account}"
    assert f"sign-in URL: {url}" in stdout
    if endpoint.kind == "selfiam":  # the portal's sign-in form, the account filled in
        with urllib.request.urlopen(url, timeout=30) as page:
            assert f'value="{endpoint.account}"' in page.read().decode()

    missing = endpoint.run("onboard", "quinn", "--group", "NoSuchTeam")
    assert missing.returncode == 1
    assert "no such group: NoSuchTeam; nothing was created" in missing.stderr
    with pytest.raises(ClientError) as exc:
        endpoint.iam.get_user(UserName="quinn")
    assert code_of(exc) == "NoSuchEntity"

    taken = endpoint.run("onboard", "pete")
    assert taken.returncode == 1 and "EntityAlreadyExists" in taken.stderr


# --- offboard --------------------------------------------------------------------------------


def equip(endpoint: Endpoint, name: str) -> dict[str, Any]:
    """A user holding every kind of credential and attachment IAM knows."""
    iam = endpoint.iam
    iam.create_user(UserName=name)
    keys = [iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.create_login_profile(UserName=name, Password="Xy9!" + "long-enough-Passw0rd")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    step = int(time.time()) // 30
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=serial,
        AuthenticationCode1=totp.at((step - 1) * 30),
        AuthenticationCode2=totp.at(step * 30),
    )
    cert = iam.upload_signing_certificate(UserName=name, CertificateBody=make_certificate())
    ssh = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=openssh(rsa_public_key()))
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document)
    managed = iam.create_policy(PolicyName=f"{name}-managed", PolicyDocument=document)["Policy"]
    iam.attach_user_policy(UserName=name, PolicyArn=managed["Arn"])
    if endpoint.kind == "selfiam":  # moto has no PutUserPermissionsBoundary
        iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=managed["Arn"])
    for group in (f"{name}-a", f"{name}-b"):
        iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName=name)
    return {
        "keys": keys,
        "serial": serial,
        "cert": cert["Certificate"]["CertificateId"],
        "ssh": ssh["SSHPublicKey"]["SSHPublicKeyId"],
        "policy": managed["Arn"],
    }


def virtual_serials(iam: Any) -> set[str]:
    return {d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]}


def test_offboard_interrupted_then_rerun(endpoint: Endpoint) -> None:
    iam, name = endpoint.iam, "leaver"
    held = equip(endpoint, name)
    unsupported = "service-specific credentials: not supported by this endpoint"

    listing = ok(endpoint.run("offboard", name, "--dry-run"))
    for expected in (
        *(f"DeleteAccessKey: access key {k} (Active)" for k in held["keys"]),
        f"DeleteSigningCertificate: signing certificate {held['cert']}",
        f"DeleteSSHPublicKey: SSH public key {held['ssh']}",
        f"DeactivateMFADevice: MFA device {held['serial']}",
        f"DeleteVirtualMFADevice: virtual MFA device {held['serial']}",
        "DeleteLoginProfile: login profile",
        "DeleteUserPolicy: inline policy inline",
        f"DetachUserPolicy: attached policy {held['policy']}",
        f"RemoveUserFromGroup: membership of group {name}-a",
        f"RemoveUserFromGroup: membership of group {name}-b",
        f"DeleteUser: user arn:aws:iam::{endpoint.account}:user/{name}",
        "dry run: nothing removed",
    ):
        assert expected in listing, listing
    # selfiam answers ListServiceSpecificCredentials (the leaver holds none); moto does not
    assert (unsupported in listing) == (endpoint.kind != "selfiam"), listing
    boundary = f"DeleteUserPermissionsBoundary: permissions boundary {held['policy']}"
    assert (boundary in listing) == (endpoint.kind == "selfiam")
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 2

    # Killed after step 5: keys, certificate and SSH key gone, the MFA device deactivated
    # but not yet deleted.
    proc = endpoint.start("offboard", name, "--yes", SELFIAM_OFFBOARD_PAUSE_AFTER="5")
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("pausing after step 5"):
                break
        else:
            pytest.fail("offboard did not pause:\n" + "".join(seen))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert any("[5/" in line and "DeactivateMFADevice" in line for line in seen), seen
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert iam.list_signing_certificates(UserName=name)["Certificates"] == []
    assert iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"] == []
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []
    assert held["serial"] in virtual_serials(iam)
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    assert iam.get_user(UserName=name)["User"]["UserName"] == name

    # Re-run: only what is left, the orphaned virtual device included; ends proven gone.
    rerun = ok(endpoint.run("offboard", name, "--yes"))
    assert "DeleteAccessKey" not in rerun
    assert f"unassigned virtual MFA device {held['serial']}" in rerun
    assert "no longer exists (GetUser: NoSuchEntity)" in rerun
    assert (unsupported in rerun) == (endpoint.kind != "selfiam"), rerun
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName=name)
    assert code_of(exc) == "NoSuchEntity"
    assert held["serial"] not in virtual_serials(iam)
    assert iam.get_policy(PolicyArn=held["policy"])["Policy"]["AttachmentCount"] == 0
    for group in (f"{name}-a", f"{name}-b"):
        assert iam.get_group(GroupName=group)["Users"] == []

    # And once more: nothing left, still a success.
    again = ok(endpoint.run("offboard", name, "--yes"))
    assert "does not exist" in again


def test_offboard_asks_first(endpoint: Endpoint) -> None:
    iam = endpoint.iam
    iam.create_user(UserName="stayer")
    iam.create_access_key(UserName="stayer")
    declined = endpoint.run("offboard", "stayer", input="n\n")
    assert declined.returncode == 1
    assert "Remove all of this and delete user stayer?" in declined.stdout
    assert len(iam.list_access_keys(UserName="stayer")["AccessKeyMetadata"]) == 1

    confirmed = ok(endpoint.run("offboard", "stayer", input="y\n"))
    assert "[1/2] DeleteAccessKey" in confirmed and "[2/2] DeleteUser" in confirmed
    assert "no longer exists" in confirmed


def _trust_of(iam: Any, role: str) -> Any:
    from selfiam.tooling.offboard_roles import document

    return document(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def test_offboard_takes_the_user_out_of_role_trust(endpoint: Endpoint) -> None:
    """The user is taken out of every trust policy naming them, and with
    --revoke-role-sessions the sessions of those roles issued before now are denied
    (enforced on selfiam; moto stores the policy but does not evaluate it)."""
    from selfiam.tooling.offboard_roles import ADMITS_NO_ONE, REVOKE_POLICY_NAME

    iam = endpoint.iam
    leaver = iam.create_user(UserName="role-leaver")["User"]["Arn"]
    stays = iam.create_user(UserName="role-stayer")["User"]["Arn"]

    def trust(*arns: str) -> str:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": list(arns)},
            "Action": "sts:AssumeRole",
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    for role, arns in (("shared", (leaver, stays)), ("only", (leaver,)), ("other", (stays,))):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(*arns))
    read = {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}
    iam.put_role_policy(
        RoleName="shared",
        PolicyName="read",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [read]}),
    )
    old_session = None
    if endpoint.kind == "selfiam":
        server = endpoint.server
        assert server is not None
        key = iam.create_access_key(UserName="role-stayer")["AccessKey"]
        sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], service="sts")
        old_session = sts.assume_role(
            RoleArn=f"arn:aws:iam::{endpoint.account}:role/shared", RoleSessionName="before"
        )["Credentials"]
        as_session = server.client(
            old_session["AccessKeyId"],
            old_session["SecretAccessKey"],
            token=old_session["SessionToken"],
        )
        assert as_session.get_role(RoleName="other")["Role"]["RoleName"] == "other"

    listing = ok(endpoint.run("offboard", "role-leaver", "--dry-run", "--revoke-role-sessions"))
    for role in ("shared", "only"):
        arn = f"arn:aws:iam::{endpoint.account}:role/{role}"
        assert (
            f"UpdateAssumeRolePolicy: the user as a principal in the trust policy of role {arn}"
            in listing
        )
        assert f"PutRolePolicy: sessions of role {arn} issued before now" in listing
    assert "role/other" not in listing
    assert "note: role sessions the user started: a selfiam server ends every one" in listing
    assert _trust_of(iam, "only")["Statement"][0]["Principal"]["AWS"] == [leaver]

    # Killed after step 3: the first role listed is done, the second has the revoke policy
    # but still trusts the user (moto lists roles in no fixed order).
    proc = endpoint.start(
        "offboard",
        "role-leaver",
        "--yes",
        "--revoke-role-sessions",
        SELFIAM_OFFBOARD_PAUSE_AFTER="3",
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("pausing after step 3"):
                break
        else:
            pytest.fail("offboard did not pause:\n" + "".join(seen))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    first = next(line for line in seen if line.startswith("[1/"))
    done, half = ("only", "shared") if "role/only " in first else ("shared", "only")
    assert f"role/{done} " in first, seen
    assert leaver not in json.dumps(_trust_of(iam, done))
    assert REVOKE_POLICY_NAME in iam.list_role_policies(RoleName=half)["PolicyNames"]
    assert leaver in _trust_of(iam, half)["Statement"][0]["Principal"]["AWS"]

    rest = ok(endpoint.run("offboard", "role-leaver", "--yes", "--revoke-role-sessions"))
    assert f"role/{done} " not in rest and f"role/{half} " in rest
    assert "no longer exists (GetUser: NoSuchEntity)" in rest
    assert _trust_of(iam, "shared")["Statement"][0]["Principal"]["AWS"] == [stays]
    assert _trust_of(iam, "only")["Statement"] == [ADMITS_NO_ONE]
    assert _trust_of(iam, "other")["Statement"][0]["Principal"]["AWS"] == [stays]
    for role in ("shared", "only"):
        assert REVOKE_POLICY_NAME in iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert iam.list_role_policies(RoleName="other")["PolicyNames"] == []
    if old_session is not None:
        with pytest.raises(ClientError) as exc:
            as_session.get_role(RoleName="other")
        assert code_of(exc) == "AccessDenied"
