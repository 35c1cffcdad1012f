"""Build the cost saver's Lambda zip: ``python infra/cost-saver/package.py dist/cost-saver.zip``.

The zip holds only what the handler imports: the ``cost_saver/`` package, the
few ``pipelines`` library modules it uses (:data:`LIBRARY_MODULES`), and the
``tzdata`` package (the Lambda image may lack the system time zone files that
``zoneinfo`` reads). boto3 comes with the Lambda runtime. Entries carry a
fixed date and sorted order, so the same sources always give the same zip
(and the same CloudFormation code hash).

tests/integration/test_cost_saver_package.py imports the handler from the
unpacked zip in a fresh interpreter and checks that the zip's Python files
are exactly the modules it imported from this repository: a new library
import of the cost saver fails that test until it is listed here.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def files_to_ship() -> Iterator[tuple[Path, str]]:
    """Every (file, name in the zip) pair, sorted by name."""
    entries = [(ROOT / name, name) for name in LIBRARY_MODULES]
    entries += [
        (path, path.relative_to(ROOT).as_posix()) for path in (ROOT / PACKAGE).rglob("*.py")
    ]
    entries += _tzdata_files()
    yield from sorted(entries, key=lambda entry: entry[1])


def _tzdata_files() -> list[tuple[Path, str]]:
    try:
        import tzdata
    except ImportError:
        raise SystemExit(
            "package.py: the tzdata package is not installed in this interpreter\n"
            "  fix: python -m pip install tzdata==2026.6, then run package.py again"
        ) from None
    package_dir = Path(tzdata.__file__).parent
    return [
        (path, path.relative_to(package_dir.parent).as_posix())
        for path in package_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


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
    sys.stdout.write(f"wrote {args.destination} ({len(names)} files)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
