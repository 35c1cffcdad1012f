"""The Lambda zip works alone, holds exactly what the handler imports, and bundles the pinned SDK.

The zip is built with infra/cost-saver/package.py and the handler imported
from it in a fresh interpreter that sees nothing but the zip and the
standard library (see tests/integration/lambda_zip.py). Then the modules
that interpreter loaded from the zip are compared with the zip's Python
files of this repository: a module the handler imports but the zip lacks
fails the import, and a file the zip carries that the handler never imports
fails the comparison. boto3 and botocore must come from the zip, at the
versions the tests ran with.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path, PurePosixPath

import pytest

from cost_saver.model import AWS_SERVICES
from tests.integration.lambda_zip import build_zip, run_alone

pytestmark = pytest.mark.tools

# This repository's importable packages: anything of theirs in the zip must be
# imported by the handler, and nothing of theirs may load from outside the zip.
REPOSITORY_PACKAGES = ("cost_saver", "pipelines", "pipelines_cli", "ci", "tests")
# What the zip bundles besides: the SDK and the time zone data.
BUNDLED_MODULES = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "six", "tzdata")

# Imports the handler as the Lambda runtime does, makes a client of every
# service it calls (their models must be in the zip), reads a time zone with
# the system zone files hidden (PYTHONTZPATH is empty), and reports which
# modules were loaded, and from where.
REPORT_IMPORTS = f"""
import json, zoneinfo
import boto3, botocore
import cost_saver.handler
session = boto3.session.Session(region_name="eu-west-1")
for service in {AWS_SERVICES!r}:
    session.client(service)
zoneinfo.ZoneInfo("Europe/Paris")
packages = {(*REPOSITORY_PACKAGES, *BUNDLED_MODULES)!r}
loaded = {{
    name: getattr(module, "__file__", None)
    for name, module in sorted(sys.modules.items())
    if name.split(".")[0] in packages
}}
print(json.dumps({{
    "loaded": loaded,
    "handler": callable(cost_saver.handler.lambda_handler),
    "versions": {{"boto3": boto3.__version__, "botocore": botocore.__version__}},
}}))
"""


def report_from_the_zip(unpacked: Path) -> dict[str, object]:
    result = run_alone(
        unpacked,
        REPORT_IMPORTS,
        env={"PYTHONTZPATH": "", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    assert report["handler"] is True
    return report


def loaded_modules(report: dict[str, object]) -> dict[str, str | None]:
    loaded = report["loaded"]
    assert isinstance(loaded, dict)
    return loaded


def test_the_handler_and_its_sdk_import_from_the_zip_alone(tmp_path: Path) -> None:
    _, unpacked = build_zip(tmp_path)

    loaded = loaded_modules(report_from_the_zip(unpacked))

    outside = {
        name: file
        for name, file in loaded.items()
        # six makes six.moves on the fly, with no file: every other module has one.
        if (file is None and not name.startswith("six.moves"))
        or (file is not None and not Path(file).is_relative_to(unpacked))
    }
    assert not outside, f"loaded from outside the zip: {outside}"
    assert {"tzdata", "boto3", "botocore", "urllib3"} <= set(loaded)


def test_the_zip_bundles_the_pinned_boto3_and_botocore(tmp_path: Path) -> None:
    _, unpacked = build_zip(tmp_path)

    versions = report_from_the_zip(unpacked)["versions"]

    assert versions == {
        "boto3": importlib.metadata.version("boto3"),
        "botocore": importlib.metadata.version("botocore"),
    }
    constraints = (Path(__file__).resolve().parents[2] / "constraints.txt").read_text()
    assert f"boto3=={importlib.metadata.version('boto3')}\n" in constraints
    assert f"botocore=={importlib.metadata.version('botocore')}\n" in constraints


def test_the_zips_repository_files_are_exactly_the_modules_the_handler_imports(
    tmp_path: Path,
) -> None:
    names, unpacked = build_zip(tmp_path)

    loaded = loaded_modules(report_from_the_zip(unpacked))

    top_levels = {PurePosixPath(name).parts[0] for name in names}
    assert {t for t in top_levels if not t.endswith(".dist-info")} == {
        "cost_saver",
        "pipelines",
        *BUNDLED_MODULES[:-2],
        "s3transfer",
        "six.py",
        "tzdata",
    }
    shipped = {name for name in names if PurePosixPath(name).parts[0] in REPOSITORY_PACKAGES}
    assert all(name.endswith(".py") for name in shipped), sorted(shipped)
    imported = {
        Path(file).relative_to(unpacked).as_posix()
        for name, file in loaded.items()
        if file is not None and name.split(".")[0] in REPOSITORY_PACKAGES
    }
    assert shipped == imported, (
        f"in the zip, never imported: {sorted(shipped - imported)}; "
        f"imported, not in the zip: {sorted(imported - shipped)}"
    )
    assert {"cost_saver/handler.py", "pipelines/aws/session.py"} <= shipped
    # Only the models of the services the handler calls.
    models = {
        PurePosixPath(n).parts[2]
        for n in names
        if n.startswith("botocore/data/") and n.count("/") > 2
    }
    assert models == set(AWS_SERVICES)


def test_a_zip_without_a_module_the_handler_imports_does_not_load(tmp_path: Path) -> None:
    # The isolation itself: were the repository on the path, this would still import.
    _, unpacked = build_zip(tmp_path)
    (unpacked / "pipelines" / "values.py").unlink()

    result = run_alone(unpacked, "import cost_saver.handler\n")

    assert result.returncode != 0
    assert "No module named 'pipelines.values'" in result.stderr


def test_a_zip_without_the_sdk_does_not_load(tmp_path: Path) -> None:
    # boto3 is the zip's: the interpreter has no other to fall back on.
    _, unpacked = build_zip(tmp_path)
    for path in sorted((unpacked / "botocore").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (unpacked / "botocore").rmdir()

    result = run_alone(unpacked, "import boto3\n")

    assert result.returncode != 0
    assert "No module named 'botocore'" in result.stderr
