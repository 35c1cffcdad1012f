"""What each package may import, read from its source (function-level imports included).

- ``pipelines``, the library, imports neither ``dagger`` nor ``subprocess``,
  nor any package built on top of it.
- ``pipelines_cli``, the command-line tools, imports the library only: never
  the Dagger module (``ci``), the Lambda or the tests.
- ``cost_saver``, the Lambda, ships alone: of the library it imports only
  ``pipelines.errors`` and ``pipelines.aws.session``, and never ``dagger`` or
  ``httpx``. The zip infra/cost-saver/package.py builds holds exactly the
  repository modules its handler reaches (the zip is run alone in
  tests/integration/test_cost_saver_package.py).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY_PACKAGES = frozenset({"pipelines", "pipelines_cli", "cost_saver", "ci", "tests"})


def module_name(file: Path, root: Path) -> str:
    parts = file.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, root: Path) -> Path | None:
    """The file of module ``name`` under ``root``, or None when it is not a module there."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(file: Path, root: Path) -> set[str]:
    """Every module ``file`` imports, at the top or inside a function, as absolute names."""
    name = module_name(file, root)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), filename=str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            # `from pipelines.aws import session` imports the module pipelines.aws.session.
            found.update(
                f"{base}.{alias.name}"
                for alias in node.names
                if module_file(f"{base}.{alias.name}", root)
            )
    return found


def sources(package: str, root: Path) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def violations(
    package: str,
    root: Path,
    *,
    forbidden: Iterable[str] = (),
    allowed_from_repository: Iterable[str] | None = None,
) -> list[str]:
    """``file: module`` for each import of ``package`` that its rules refuse.

    ``forbidden`` names modules (and their submodules) never to import;
    ``allowed_from_repository``, when given, lists the only modules of the
    repository's other packages it may import (their parent packages too).
    """
    refused = tuple(forbidden)
    allowed: set[str] | None = None
    if allowed_from_repository is not None:
        allowed = set()
        for name in allowed_from_repository:
            parts = name.split(".")
            allowed.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    found = []
    for file in sources(package, root):
        for name in sorted(imports_of(file, root)):
            top = name.split(".")[0]
            if any(name == bad or name.startswith(f"{bad}.") for bad in refused) or (
                allowed is not None
                and top in REPOSITORY_PACKAGES
                and top != package
                and name not in allowed
            ):
                found.append(f"{file.relative_to(root)}: {name}")
    return found


LIBRARY_FORBIDDEN = ("dagger", "subprocess", "ci", "pipelines_cli", "cost_saver", "tests")
TOOLS_FORBIDDEN = ("dagger", "ci", "cost_saver", "tests")
LAMBDA_FORBIDDEN = ("dagger", "httpx", "ci", "pipelines_cli", "tests")
LAMBDA_LIBRARY_MODULES = ("pipelines.errors", "pipelines.aws.session")


def test_the_library_runs_no_process_and_knows_nothing_built_on_it() -> None:
    assert violations("pipelines", ROOT, forbidden=LIBRARY_FORBIDDEN) == []


def test_the_tools_import_the_library_only() -> None:
    assert violations("pipelines_cli", ROOT, forbidden=TOOLS_FORBIDDEN) == []


def test_the_lambda_imports_only_the_library_modules_it_needs() -> None:
    assert (
        violations(
            "cost_saver",
            ROOT,
            forbidden=LAMBDA_FORBIDDEN,
            allowed_from_repository=LAMBDA_LIBRARY_MODULES,
        )
        == []
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def run():\n    import subprocess\n", "pipelines/planted.py: subprocess"),
        ("from dagger import dag\n", "pipelines/planted.py: dagger"),
        ("from ci import main\n", "pipelines/planted.py: ci"),
        ("from . import other\n", None),
    ],
    ids=["lazy-subprocess", "dagger", "the-dagger-module", "relative-inside"],
)
def test_a_planted_library_import_is_found(
    tmp_path: Path, source: str, expected: str | None
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pipelines" / "other.py").write_text("", encoding="utf-8")
    (tmp_path / "pipelines" / "planted.py").write_text(source, encoding="utf-8")

    found = violations("pipelines", tmp_path, forbidden=LIBRARY_FORBIDDEN)

    assert found == ([expected] if expected else [])


def test_a_lambda_import_of_another_library_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "cost_saver").mkdir()
    (tmp_path / "pipelines" / "aws").mkdir(parents=True)
    for name in ("__init__.py", "errors.py", "tags.py", "aws/__init__.py", "aws/session.py"):
        (tmp_path / "pipelines" / name).write_text("", encoding="utf-8")
    (tmp_path / "cost_saver" / "__init__.py").write_text(
        "from pipelines.aws import session\n"
        "from pipelines.errors import PipelinesError\n"
        "from pipelines import tags\n",
        encoding="utf-8",
    )

    found = violations(
        "cost_saver",
        tmp_path,
        forbidden=LAMBDA_FORBIDDEN,
        allowed_from_repository=LAMBDA_LIBRARY_MODULES,
    )

    assert found == ["cost_saver/__init__.py: pipelines.tags"]


# --- the zip ------------------------------------------------------------------------


def package_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cost_saver_package", ROOT / "infra" / "cost-saver" / "package.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def closure(start: Iterable[Path], root: Path) -> Iterator[Path]:
    """Every repository module file reachable by imports from ``start``, parents included."""
    seen: set[Path] = set()
    pending = list(start)
    while pending:
        file = pending.pop()
        if file in seen:
            continue
        seen.add(file)
        for name in imports_of(file, root):
            if name.split(".")[0] not in REPOSITORY_PACKAGES:
                continue
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:end]), root)
                if found is not None:
                    pending.append(found)
    yield from sorted(seen)


def test_the_zip_holds_exactly_the_modules_the_cost_saver_reaches() -> None:
    shipped = {
        name for _, name in package_script().files_to_ship() if not name.startswith("tzdata/")
    }

    reached = {
        file.relative_to(ROOT).as_posix() for file in closure(sources("cost_saver", ROOT), ROOT)
    }

    assert shipped == reached, (
        f"in the zip, never imported: {sorted(shipped - reached)}; "
        f"imported, not in the zip: {sorted(reached - shipped)}"
    )
