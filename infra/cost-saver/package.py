"""Build the cost saver's Lambda zip: ``python infra/cost-saver/package.py dist/cost-saver.zip``.

The zip holds only what the handler runs on:

- the ``cost_saver/`` package and the few ``pipelines`` library modules it
  uses (:data:`LIBRARY_MODULES`);
- the AWS SDK it is tested with, pinned: boto3, botocore and their
  dependencies (:data:`SDK`), at the versions of ``constraints.txt``, so the
  Lambda never runs whatever boto3 its runtime carries that month. Of
  botocore's service models only those of the services the handler calls
  (``cost_saver.model.AWS_SERVICES``) are shipped, which keeps the zip a few
  megabytes instead of thirty;
- the ``tzdata`` package (the Lambda image may lack the system time zone
  files that ``zoneinfo`` reads).

Entries carry a fixed date and sorted order, so the same sources always give
the same zip (and the same CloudFormation code hash).

tests/integration/test_cost_saver_package.py imports the handler from the
unpacked zip in a fresh interpreter that sees nothing else but the standard
library, checks that the zip's Python files of this repository are exactly
the modules it imported, and tests/integration/test_cost_saver_moto_server.py
runs a stop and a start from it against moto's server.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cost_saver.model import AWS_SERVICES  # noqa: E402 - after the repository is on the path.

_FIXED_DATE = (2020, 1, 1, 0, 0, 0)
PACKAGE = "cost_saver"
# The library modules the cost saver imports, and what those import in turn:
# the error base, and the boto3 client config shared with the pipelines.
LIBRARY_MODULES = (
    "pipelines/__init__.py",
    "pipelines/errors.py",
    "pipelines/aws/__init__.py",
    "pipelines/aws/session.py",
    "pipelines/values.py",
)
# boto3 and everything it needs at run time (its requirements without extras,
# and theirs): tests/unit/test_lambda_package.py checks this is the closure.
SDK = ("boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3")
BUNDLED = (*SDK, "tzdata")
# What an installed distribution lists that the Lambda does not need.
_INSTALL_RECORDS = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json"}
# Directories of service models, trimmed to the services the handler calls.
_MODEL_DIRS = ("botocore/data/", "boto3/data/")


def files_to_ship() -> Iterator[tuple[Path, str]]:
    """Every (file, name in the zip) pair, sorted by name."""
    entries = [(ROOT / name, name) for name in LIBRARY_MODULES]
    entries += [
        (path, path.relative_to(ROOT).as_posix()) for path in (ROOT / PACKAGE).rglob("*.py")
    ]
    for name in BUNDLED:
        entries += distribution_files(name)
    yield from sorted(entries, key=lambda entry: entry[1])


def distribution_files(name: str) -> list[tuple[Path, str]]:
    """The installed files of ``name`` that the Lambda needs; its version must be the pin."""
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(
            f"package.py: {name} is not installed in this interpreter\n"
            "  fix: make install (or python -m pip install -c constraints.txt -e '.[dev]'), "
            "then run package.py again"
        ) from None
    pinned = pins().get(_normalize(name))
    if distribution.version != pinned:
        raise SystemExit(
            f"package.py: {name} {distribution.version} is installed, constraints.txt pins "
            f"{pinned}: the zip must carry what the tests ran on\n"
            "  fix: python -m pip install -c constraints.txt -e '.[dev]', then run package.py again"
        )
    wheel = distribution.read_text("WHEEL") or ""
    if "Root-Is-Purelib: true" not in wheel:
        raise SystemExit(
            f"package.py: {name} is not pure Python, so a build here may not run on the "
            "Lambda's arm64 runtime\n  fix: bundle it from an arm64 wheel, or drop it"
        )
    files: list[tuple[Path, str]] = []
    for file in distribution.files or ():
        posix = PurePosixPath(file.as_posix())
        if ".." in posix.parts or "__pycache__" in posix.parts or posix.suffix == ".pyc":
            continue
        if posix.parent.name.endswith(".dist-info") and posix.name in _INSTALL_RECORDS:
            continue
        if _unused_model(posix):
            continue
        files.append((Path(str(distribution.locate_file(file))), posix.as_posix()))
    return files


def _unused_model(path: PurePosixPath) -> bool:
    text = path.as_posix()
    for prefix in _MODEL_DIRS:
        if text.startswith(prefix) and len(path.parts) > 3:
            return path.parts[2] not in AWS_SERVICES
    return False


def pins() -> dict[str, str]:
    """constraints.txt as {normalized name: version}."""
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)==([^\s;#]+).*", line)
        if match:
            found[_normalize(match.group(1))] = match.group(2)
    return found


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build(destination: Path) -> list[str]:
    """Write the zip to ``destination``; return the names it holds."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in files_to_ship():
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path, help="where to write the zip")
    args = parser.parse_args(argv)
    names = build(args.destination)
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("boto3", "botocore")
    )
    size = args.destination.stat().st_size / 1_000_000
    sys.stdout.write(f"wrote {args.destination} ({len(names)} files, {size:.1f} MB; {versions})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
