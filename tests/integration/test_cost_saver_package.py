"""The Lambda zip works alone, and holds exactly what the handler imports.

The zip is built with infra/cost-saver/package.py and the handler imported
from it in a fresh interpreter that sees nothing of this repository (see
tests/integration/lambda_zip.py). Then the modules that interpreter loaded
from the zip are compared with the zip's Python files: a module the handler
imports but the zip lacks fails the import, and a file the zip carries that
the handler never imports fails the comparison.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from tests.integration.lambda_zip import build_zip, run_alone

pytestmark = pytest.mark.tools

# This repository's importable packages: anything of theirs in the zip must be
# imported by the handler, and nothing of theirs may load from outside the zip.
REPOSITORY_PACKAGES = ("cost_saver", "pipelines", "pipelines_cli", "ci", "tests")

# Imports the handler as the Lambda runtime does, reads a time zone with the
# system zone files hidden (PYTHONTZPATH is empty), and reports which modules
# of the repository's packages were loaded, and from where.
REPORT_IMPORTS = f"""
import json, zoneinfo
import cost_saver.handler
zoneinfo.ZoneInfo("Europe/Paris")
packages = {(*REPOSITORY_PACKAGES, "tzdata")!r}
loaded = {{
    name: getattr(module, "__file__", None)
    for name, module in sorted(sys.modules.items())
    if name.split(".")[0] in packages
}}
print(json.dumps({{"loaded": loaded, "handler": callable(cost_saver.handler.lambda_handler)}}))
"""


def imported_from_the_zip(unpacked: Path) -> dict[str, str | None]:
    result = run_alone(unpacked, REPORT_IMPORTS, env={"PYTHONTZPATH": ""})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["handler"] is True
    loaded: dict[str, str | None] = report["loaded"]
    return loaded


def test_the_handler_imports_from_the_zip_alone(tmp_path: Path) -> None:
    _, unpacked = build_zip(tmp_path)

    loaded = imported_from_the_zip(unpacked)

    outside = {
        name: file
        for name, file in loaded.items()
        if file is None or not Path(file).is_relative_to(unpacked)
    }
    assert not outside, f"loaded from outside the zip: {outside}"
    assert "tzdata" in loaded, "Europe/Paris was not read from the zip's tzdata"


def test_the_zips_python_files_are_exactly_the_modules_the_handler_imports(
    tmp_path: Path,
) -> None:
    names, unpacked = build_zip(tmp_path)

    loaded = imported_from_the_zip(unpacked)

    top_levels = {PurePosixPath(name).parts[0] for name in names}
    assert top_levels == {"cost_saver", "pipelines", "tzdata"}
    shipped = {name for name in names if not name.startswith("tzdata/")}
    assert all(name.endswith(".py") for name in shipped), sorted(shipped)
    imported = {
        Path(file).relative_to(unpacked).as_posix()
        for name, file in loaded.items()
        if file is not None and name.split(".")[0] != "tzdata"
    }
    assert shipped == imported, (
        f"in the zip, never imported: {sorted(shipped - imported)}; "
        f"imported, not in the zip: {sorted(imported - shipped)}"
    )
    assert {"cost_saver/handler.py", "pipelines/aws/session.py"} <= shipped


def test_a_zip_without_a_module_the_handler_imports_does_not_load(tmp_path: Path) -> None:
    # The isolation itself: were the repository on the path, this would still import.
    _, unpacked = build_zip(tmp_path)
    (unpacked / "pipelines" / "values.py").unlink()

    result = run_alone(unpacked, "import cost_saver.handler\n")

    assert result.returncode != 0
    assert "No module named 'pipelines.values'" in result.stderr
