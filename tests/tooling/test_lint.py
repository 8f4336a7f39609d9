"""``selfiam policy lint``: the seed's 2012 policies, renamed actions, escalation paths, output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from selfiam.catalog import Catalog
from selfiam.cli.main import cli
from selfiam.policy import PolicyKind
from selfiam.tooling.lint import ERROR, WARNING, FileReport, lint_policy

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "the-xmas-gift-of-iam-self-service.md"
SELF_SERVICE = ROOT / "src/selfiam/domain/policies/self_service_credentials.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body["Version"] = version
    return json.dumps(body)


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def lint(text: str, catalog: Catalog) -> FileReport:
    return lint_policy(text, catalog=catalog)


def codes(report: FileReport, severity: str | None = None) -> list[str]:
    return [f.code for f in report.findings if severity is None or f.severity == severity]


def escalations(report: FileReport) -> set[str]:
    return {f.message.split(" ", 1)[0] for f in report.findings if f.code == "privilege-escalation"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["policy", "lint", *args], catch_exceptions=False)


# --- the seed's own policies -----------------------------------------------------------------


def test_fixtures_are_the_seeds_code_blocks() -> None:
    if not SEED.exists():
        pytest.skip("the shared seed is not beside the repository")
    text = SEED.read_text()
    for name in ("seed_2012_full_iam.json", "seed_2012_self_service.json"):
        assert (DATA / name).read_text() in text


def test_seed_policy_is_flagged_as_malformed_json_first(catalog: Catalog) -> None:
    report = lint((DATA / "seed_2012_self_service.json").read_text(), catalog)
    assert [(f.severity, f.code) for f in report.findings] == [(ERROR, "MalformedPolicyDocument")]
    assert "Expecting ',' delimiter at line 16, column 15" in report.findings[0].message
    assert report.expansions == []
    result = run(str(DATA / "seed_2012_self_service.json"), "--expand")
    assert result.exit_code == 1
    assert "error [MalformedPolicyDocument]: Syntax errors in policy" in result.output


def test_fixed_seed_policy_expands_its_patterns_as_of_today(catalog: Catalog) -> None:
    report = lint((DATA / "seed_2012_self_service_fixed.json").read_text(), catalog)
    assert report.errors == 0
    expanded = {(e.statement, e.pattern): set(e.actions) for e in report.expansions}
    password = expanded[(1, "iam:*Password*")]
    assert {"iam:ChangePassword", "iam:UpdateAccountPasswordPolicy"} <= password
    assert {
        "iam:CreateAccessKey",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
    } <= expanded[(1, "iam:*AccessKey*")]
    assert {
        "iam:UploadSigningCertificate",
        "iam:UpdateSigningCertificate",
        "iam:DeleteSigningCertificate",
        "iam:ListSigningCertificates",
    } == expanded[(1, "iam:*SigningCertificate*")]
    mfa = expanded[(2, "iam:*MFADevice*")]
    assert {
        "iam:CreateVirtualMFADevice",
        "iam:EnableMFADevice",
        "iam:ResyncMFADevice",
        "iam:DeactivateMFADevice",
        "iam:DeleteVirtualMFADevice",
    } <= mfa
    # 2012's policy has no Version, so ${aws:username} is literal, and ACCOUNT# is no account.
    assert codes(report, WARNING).count("literal-variable") == 2
    assert codes(report, WARNING).count("account-id") == 2
    assert any('"ACCOUNT#"' in f.message for f in report.findings)
    # Restricted to the holder's own name, UpdateLoginProfile is no escalation path.
    assert escalations(report) == set()

    result = run(str(DATA / "seed_2012_self_service_fixed.json"), "--expand")
    assert result.exit_code == 0, result.output
    assert "Action iam:*AccessKey* expands to" in result.output
    assert "    iam:CreateAccessKey  (Permissions management)" in result.output
    assert run(str(DATA / "seed_2012_self_service_fixed.json"), "--strict").exit_code == 1


def test_seed_full_iam_policy_warns_of_escalation(catalog: Catalog) -> None:
    seed = (DATA / "seed_2012_full_iam.json").read_text()
    # The seed's ARN keeps its "ACCOUNT#:" placeholder after the account: IAM refuses a
    # resource part that names no IAM resource type (moto's table of IAM's answers:
    # 'IAM resource path must either be "*" or start with user/, ...').
    refused = lint(seed, catalog)
    assert [(f.severity, f.code) for f in refused.findings] == [(ERROR, "MalformedPolicyDocument")]
    assert "IAM ARN names a user/" in refused.findings[0].message
    report = lint(seed.replace("049718304780:ACCOUNT#:", "049718304780:"), catalog)
    assert report.errors == 0
    assert {
        "iam:PutUserPolicy",
        "iam:AttachUserPolicy",
        "iam:AddUserToGroup",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteUserPermissionsBoundary",
    } <= escalations(report)
    put = next(f for f in report.findings if f.message.startswith("iam:PutUserPolicy"))
    assert put.sid == "Stmt1356297700489" and put.statement == 1 and put.pattern == "iam:*"
    assert "(from iam:*)" in put.message


def test_checked_in_self_service_policy_is_clean(catalog: Catalog) -> None:
    report = lint(SELF_SERVICE.read_text(), catalog)
    assert report.errors == 0, report.findings
    assert escalations(report) == set()
    assert "write-on-all-resources" not in codes(report)


# --- actions that do not exist ---------------------------------------------------------------


def test_renamed_action_is_an_error_with_a_suggestion(catalog: Catalog) -> None:
    report = lint(doc(allow(["iam:CreateAccessKeys", "iam:GetUser"])), catalog)
    [finding] = report.findings
    assert (finding.severity, finding.code, finding.pattern) == (
        ERROR,
        "unknown-action",
        "iam:CreateAccessKeys",
    )
    assert "did you mean iam:CreateAccessKey?" in finding.message


def test_wildcard_matching_nothing_is_an_error(catalog: Catalog) -> None:
    report = lint(doc(allow("iam:*Passwrd*")), catalog)
    assert codes(report) == ["unknown-action"]
    assert "iam:*Passwrd* matches no action of AWS Identity and Access Management" in (
        report.findings[0].message
    )
    assert report.expansions[0].actions == ()


def test_unknown_service_prefix_is_an_error(catalog: Catalog) -> None:
    report = lint(doc(allow(["iamm:GetUser", "s3:GetObject"])), catalog)
    assert codes(report) == ["unknown-service"]
    assert 'no AWS service has the prefix "iamm"' in report.findings[0].message
    assert "did you mean iam?" in report.findings[0].message


def test_not_action_entries_are_checked_too(catalog: Catalog) -> None:
    statement = {"Effect": "Deny", "NotAction": ["iam:ChangePasword"], "Resource": "*"}
    report = lint(doc(statement), catalog)
    assert codes(report) == ["unknown-action"]
    assert report.findings[0].message.startswith("NotAction iam:ChangePasword")


def test_case_does_not_matter(catalog: Catalog) -> None:
    assert lint(doc(allow(["IAM:getuser", "iam:list*"])), catalog).findings == []


def test_engine_validation_comes_first(catalog: Catalog) -> None:
    report = lint(doc(allow("CreateAccessKeys")), catalog)
    assert codes(report) == ["MalformedPolicyDocument"]
    assert "prefaced by a vendor" in report.findings[0].message


def test_kind_decides_what_is_valid(catalog: Catalog) -> None:
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    assert codes(lint_policy(trust, catalog=catalog)) == ["MalformedPolicyDocument"]
    assert lint_policy(trust, kind=PolicyKind.TRUST, catalog=catalog).errors == 0


# --- escalation paths and broad writes -------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "warned"),
    [
        ("arn:aws:iam::*:user/${aws:username}", False),
        ("arn:aws:iam::*:user/*/${aws:username}", False),
        ("arn:aws:iam::*:user/*", True),
        ("arn:aws:iam::*:user/${aws:username}*", True),
        ("arn:aws:iam::123456789012:user/bob", True),
    ],
)
def test_credentials_for_other_users(catalog: Catalog, resource: str, warned: bool) -> None:
    actions = ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"]
    report = lint(doc(allow(actions, resource)), catalog)
    assert escalations(report) == (set(actions) if warned else set())
    if warned:
        assert all("another user" in f.message for f in report.findings)


@pytest.mark.parametrize(
    ("resource", "warned"),
    [
        ("*", True),
        ("arn:aws:iam::*:role/*", True),
        ("arn:aws:iam::123456789012:role/ci-deployer", False),
    ],
)
def test_pass_role_and_assume_role_on_everything(
    catalog: Catalog, resource: str, warned: bool
) -> None:
    report = lint(doc(allow(["iam:PassRole", "sts:AssumeRole"], resource)), catalog)
    assert escalations(report) == ({"iam:PassRole", "sts:AssumeRole"} if warned else set())


def test_policy_rewriting_is_escalation_even_on_ones_own_user(catalog: Catalog) -> None:
    report = lint(doc(allow("iam:Put*Policy", "arn:aws:iam::*:user/${aws:username}")), catalog)
    assert {"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy"} <= escalations(report)
    finding = next(f for f in report.findings if f.message.startswith("iam:PutUserPolicy"))
    assert "(from iam:Put*Policy)" in finding.message and finding.pattern == "iam:Put*Policy"


def test_deny_statements_are_not_grants(catalog: Catalog) -> None:
    statement = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    assert lint(doc(statement), catalog).findings == []


def test_allow_not_action_grants_everything_else(catalog: Catalog) -> None:
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    report = lint(doc(statement), catalog)
    assert escalations(report) == {"sts:AssumeRole"}
    broad = [f for f in report.findings if f.code == "write-on-all-resources"]
    assert len(broad) == 1 and "write action(s) on every resource" in broad[0].message


def test_writes_on_every_resource(catalog: Catalog) -> None:
    report = lint(doc(allow(["iam:CreateUser", "iam:TagUser", "iam:GetUser"])), catalog)
    assert codes(report) == ["write-on-all-resources"]
    assert 'Resource "*" grants 2 write action(s)' in report.findings[0].message
    assert lint(doc(allow(["iam:Get*", "iam:List*"])), catalog).findings == []
    # Actions of no resource type can be granted on "*" only: nothing to warn about.
    unscoped = doc(allow(["iam:UpdateAccountPasswordPolicy", "sts:GetSessionToken"]))
    assert lint(unscoped, catalog).findings == []
    scoped = doc(allow("iam:CreateUser", "arn:aws:iam::123456789012:user/*"))
    assert lint(scoped, catalog).findings == []


def test_condition_is_mentioned(catalog: Catalog) -> None:
    condition = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    report = lint(
        doc(allow("iam:AttachUserPolicy", "arn:aws:iam::*:user/x", Condition=condition)), catalog
    )
    assert "Condition" in report.findings[0].message


# --- output and exit codes -------------------------------------------------------------------


def test_json_output(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        doc(
            allow(
                ["iam:CreateAccessKeys", "iam:*SSHPublicKey*"],
                "arn:aws:iam::*:user/${aws:username}",
            )
        )
    )
    result = run(str(path), "--format", "json", "--expand")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["errors"] == 1 and out["warnings"] == 0
    [file] = out["files"]
    assert file["file"] == str(path)
    assert file["findings"][0] == {
        "severity": "error",
        "code": "unknown-action",
        "message": file["findings"][0]["message"],
        "statement": 1,
        "sid": None,
        "pattern": "iam:CreateAccessKeys",
    }
    [expansion] = file["expansions"]
    assert expansion["pattern"] == "iam:*SSHPublicKey*"
    assert "iam:UploadSSHPublicKey" in expansion["actions"]


def test_several_files_and_stdin(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(doc(allow("iam:GetUser")))
    result = run(str(good), str(DATA / "seed_2012_self_service.json"))
    assert result.exit_code == 1
    assert result.output.strip().endswith("2 file(s): 1 error(s), 0 warning(s)")
    ok = CliRunner().invoke(cli, ["policy", "lint", "-"], input=doc(allow("iam:GetUser")))
    assert ok.exit_code == 0 and "0 error(s)" in ok.output
    missing = run(str(tmp_path / "nope.json"))
    assert missing.exit_code == 1 and "[unreadable]" in missing.output
