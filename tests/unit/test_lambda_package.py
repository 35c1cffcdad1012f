"""The cost-saver Lambda ships alone: its zip holds exactly the repository modules it reaches.

The import graph comes from grimp (the library behind the import contracts
in pyproject.toml), which reads every import statement, those inside
functions included. tests/integration/test_cost_saver_package.py then runs
the handler from the unpacked zip in a fresh interpreter.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Iterable
from types import ModuleType

import grimp

from cost_saver.model import AWS_SERVICES
from tests.conftest import ROOT

# What the Lambda may use of the library: the error base and the boto3 client
# config shared with the pipelines (and whatever those two import in turn).
LAMBDA_LIBRARY_MODULES = {"pipelines.errors", "pipelines.aws.session"}


def package_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cost_saver_package", ROOT / "infra" / "cost-saver" / "package.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_parents(modules: Iterable[str]) -> set[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` too: they ship as well."""
    found: set[str] = set()
    for module in modules:
        parts = module.split(".")
        found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return found


def library_modules_reached() -> set[str]:
    graph = grimp.build_graph("cost_saver", "pipelines")
    reached = graph.find_upstream_modules("cost_saver", as_package=True)
    return with_parents(m for m in reached if m.split(".")[0] == "pipelines")


def as_file(module: str) -> str:
    path = ROOT.joinpath(*module.split("."))
    return (
        f"{path.relative_to(ROOT).as_posix()}/__init__.py"
        if path.is_dir()
        else (f"{path.relative_to(ROOT).as_posix()}.py")
    )


def test_the_lambda_uses_only_the_library_modules_it_may() -> None:
    graph = grimp.build_graph("cost_saver", "pipelines")
    direct = {
        module
        for source in {"cost_saver", *graph.find_descendants("cost_saver")}
        for module in graph.find_modules_directly_imported_by(source)
        if module.split(".")[0] == "pipelines"
    }
    assert direct == LAMBDA_LIBRARY_MODULES


def test_the_zip_holds_exactly_the_modules_the_cost_saver_reaches() -> None:
    shipped = {
        name
        for _, name in package_script().files_to_ship()
        if name.split("/")[0] in ("cost_saver", "pipelines")
    }
    lambda_files = {
        path.relative_to(ROOT).as_posix() for path in (ROOT / "cost_saver").rglob("*.py")
    }
    reached = {as_file(module) for module in library_modules_reached()} | lambda_files
    assert shipped == reached, (
        f"in the zip, never imported: {sorted(shipped - reached)}; "
        f"imported, not in the zip: {sorted(reached - shipped)}"
    )


def runtime_requirements(distribution: str) -> set[str]:
    """What ``distribution`` needs installed to run: its requirements without extras."""
    names: set[str] = set()
    for requirement in importlib.metadata.requires(distribution) or ():
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert match is not None, requirement
        names.add(match.group(0).lower())
    return names


def test_the_zip_bundles_boto3_and_all_it_needs_at_the_pinned_versions() -> None:
    script = package_script()
    closure: set[str] = set()
    pending = ["boto3"]
    while pending:
        name = pending.pop()
        if name not in closure:
            closure.add(name)
            pending += sorted(runtime_requirements(name))

    assert set(script.SDK) == closure
    pins = script.pins()
    assert all(importlib.metadata.version(name) == pins[name] for name in script.SDK)


def test_the_zip_carries_only_the_service_models_the_handler_calls() -> None:
    names = [name for _, name in package_script().files_to_ship()]
    models = {name.split("/")[2] for name in names if re.match(r"botocore/data/[^/]+/", name)}

    assert models == set(AWS_SERVICES)
    assert "botocore/data/endpoints.json" in names
    assert not [name for name in names if name.endswith(".pyc") or "/__pycache__/" in name]
