"""The cost saver's Lambda zip, built by infra/cost-saver/package.py and run on its own.

:func:`build_zip` builds and unpacks the zip; :func:`run_alone` runs Python
code in a fresh interpreter whose import path holds only the unpacked zip,
the standard library and the site-packages directory boto3 is installed in
(as the Lambda runtime provides boto3). ``-I -S`` keep out the current
directory, ``PYTHON*`` variables and every ``.pth`` file, the project's
editable install among them, so nothing of this repository can leak in: a
module the zip lacks fails to import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SCRIPT = ROOT / "infra" / "cost-saver" / "package.py"
BOTO3_SITE = Path(boto3.__file__).resolve().parent.parent


def build_zip(tmp_path: Path) -> tuple[list[str], Path]:
    """The names the zip holds, and the directory it was unpacked to."""
    archive = tmp_path / "cost-saver.zip"
    subprocess.run(
        [sys.executable, str(PACKAGE_SCRIPT), str(archive)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    unpacked = tmp_path / "function"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(unpacked)
    return names, unpacked


def run_alone(
    unpacked: Path, code: str, *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` where only the zip, the standard library and boto3 can be imported."""
    path_setup = (
        f"import sys\nsys.path.insert(0, {str(unpacked)!r})\nsys.path.append({str(BOTO3_SITE)!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", path_setup + code],
        capture_output=True,
        text=True,
        check=False,
        cwd=unpacked.parent,
        env=dict(os.environ if env is None else env),
        timeout=120,
    )
