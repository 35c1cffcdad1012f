"""Building a kustomization into documents, and reading what they say.

``kubectl kustomize`` renders each kustomization exactly as Argo CD would;
the checks read the rendered documents, never the source files, so no
overlay can undo a base setting unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import PipelinesError

Document = dict[str, Any]

# libyaml's loader when PyYAML has it: a tenth of the pure-Python parsing time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BuildError(PipelinesError):
    """``kubectl kustomize`` refused a kustomization."""

    def __init__(self, directory: Path, output: str) -> None:
        super().__init__(f"kubectl kustomize failed: {output}", where=str(directory))


def tool(name: str) -> str:
    """A console script of this virtualenv, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise PipelinesError(
            f"{name} not found beside {sys.executable} or on PATH",
            fix="install the project's [dev] extra (make install), or put it on PATH",
        )
    return found


def kustomize_build(directory: Path) -> list[Document]:
    """The documents ``kubectl kustomize`` renders from ``directory``."""
    result = subprocess.run(  # noqa: S603 (an argument list: the tool and a directory)
        [tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(directory, result.stderr.strip())
    return [doc for doc in yaml.load_all(result.stdout, Loader=_YAML_LOADER) if doc]


def buildable_kustomizations(deploy_root: Path) -> list[Path]:
    """Every directory holding a ``Kustomization`` (components build only as parts)."""
    found = []
    for file in sorted(deploy_root.rglob("kustomization.yaml")):
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            # Not readable as YAML: building it is what reports why, as a problem.
            document = {}
        if not isinstance(document, Mapping) or document.get("kind", "Kustomization") == (
            "Kustomization"
        ):
            found.append(file.parent)
    return found


def where_of(directory: Path, deploy_root: Path) -> str:
    """``directory`` as the problems name it: from the deploy root's parent on."""
    try:
        return str(directory.relative_to(deploy_root.parent))
    except ValueError:
        return str(directory)


def api_group(api_version: str) -> str:
    """The group of an ``apiVersion`` (``apps/v1`` -> ``apps``; ``v1`` -> the core group ``""``)."""
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def name_of(document: Mapping[str, Any]) -> str:
    return str(document.get("metadata", {}).get("name", ""))


def find(documents: Iterable[Document], kind: str, name: str | None = None) -> list[Document]:
    """The documents of ``kind`` (and ``name``, when given)."""
    return [
        doc
        for doc in documents
        if doc.get("kind") == kind and (name is None or name_of(doc) == name)
    ]
