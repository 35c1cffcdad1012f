"""Pinned by digest beyond ci/: the Dockerfile frontends and the shared engine's image.

The module's own images are checked where they are declared (pipelines/images.py
and its tests). Two more images reach a build without passing through it:

- the frontend a ``# syntax=`` line names, which ``docker build`` pulls and runs
  to parse the Dockerfile (Dagger v0.21 accepts only docker/dockerfile or
  moby/dockerfile there and parses with its own converter, core/container.go
  ``isKnownDockerfileSyntaxFrontend``: a mirror's address would fail the build);
- the Dagger engine the Helm values install (deploy/dagger-engine/values*.yaml),
  and any ``image://`` runner host naming an engine image.

Each check is also fed a broken copy and must report it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

ENGINE_DIR = ROOT / "deploy" / "dagger-engine"
# Not the project's files: environments, caches, the built site, Node modules.
SKIP_DIRS = {".git", ".venv", "node_modules", "site", ".mypy_cache", ".ruff_cache", "__pycache__"}
SKIP_SUFFIXES = {".png", ".jpg", ".svg", ".ico", ".zip", ".gz", ".whl", ".pyc"}

DIGEST = r"@sha256:[0-9a-f]{64}"
# A parser directive: the line the frontend is named on (any spacing, any case).
SYNTAX_LINE = re.compile(r"^\s*#\s*syntax\s*=\s*(?P<ref>\S+)\s*$", re.IGNORECASE | re.MULTILINE)
# The frontends Dagger's dockerBuild accepts (prefixes of
# isKnownDockerfileSyntaxFrontend), with an exact version and a digest.
PINNED_FRONTEND = re.compile(
    r"(?:(?:index\.)?docker\.io/)?(?:docker|moby)/dockerfile(?:-upstream)?"
    r":\d+\.\d+\.\d+(?:-labs)?" + DIGEST
)
PINNED_ENGINE = re.compile(r"registry\.dagger\.io/engine:v\d+\.\d+\.\d+" + DIGEST)
RUNNER_IMAGE = re.compile(r"image(?:\+\w+)?://(?P<ref>registry\.dagger\.io/engine[^\s\"'`]*)")

# No public source of the v0.21.11 engine image's digest was found (code,
# issues and pages searched for "engine:v0.21.11" return nothing), no machine
# here reaches the registry, and a digest is never made up. Strict: once
# `python -m tools.pin_dagger` has written the digest this test passes, strict
# xfail turns that into a failure, and the marker must go.
ENGINE_DIGEST_MISSING = pytest.mark.xfail(
    strict=True,
    reason="deploy/dagger-engine/values.yaml: registry.dagger.io/engine:v0.21.11 has no verified "
    "digest yet; run `python -m tools.pin_dagger` on a machine that reaches registry.dagger.io",
)


def project_files(root: Path) -> Iterator[Path]:
    """The project's text-like files, without descending into environments and caches."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if name not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(directory, name)
            if path.suffix in SKIP_SUFFIXES or path.stat().st_size > 1_000_000:
                continue
            yield path


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def is_dockerfile(path: Path) -> bool:
    name = path.name
    return (
        name in {"Dockerfile", "Containerfile"}
        or name.startswith("Dockerfile.")
        or (name.endswith(".Dockerfile"))
    )


def frontend_problems(root: Path) -> list[str]:
    """Every ``# syntax=`` line of the tree that names an unpinned or unsupported frontend."""
    problems = []
    for path in project_files(root):
        text = read_text(path)
        if text is None:
            continue
        for match in SYNTAX_LINE.finditer(text):
            ref = match["ref"]
            if not PINNED_FRONTEND.fullmatch(ref):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(
                    f"{path.relative_to(root)}:{line}: frontend {ref!r} is not "
                    "docker/dockerfile:X.Y.Z@sha256:<digest>"
                )
    return problems


def dockerfiles(root: Path) -> list[Path]:
    return [path for path in project_files(root) if is_dockerfile(path)]


def engine_refs(values_dir: Path) -> dict[str, Any]:
    """``engine.image.ref`` of every Helm values file that sets it."""
    refs = {}
    for path in sorted(values_dir.glob("values*.yaml")):
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        ref = ((values.get("engine") or {}).get("image") or {}).get("ref")
        if ref is not None:
            refs[path.name] = ref
    return refs


def engine_problems(values_dir: Path, root: Path) -> list[str]:
    problems = [
        f"{name}: engine.image.ref {ref!r} is not registry.dagger.io/engine:vX.Y.Z@sha256:<digest>"
        for name, ref in engine_refs(values_dir).items()
        if not (isinstance(ref, str) and PINNED_ENGINE.fullmatch(ref))
    ]
    if not engine_refs(values_dir):
        problems.append(
            f"{values_dir.name}: no values file sets engine.image.ref (the chart's default "
            "is a tag)"
        )
    for path in project_files(root):
        text = read_text(path)
        for match in RUNNER_IMAGE.finditer(text or ""):
            if not PINNED_ENGINE.fullmatch(match["ref"]):
                problems.append(f"{path.relative_to(root)}: runner host {match[0]!r} is unpinned")
    return problems


# --- frontends ------------------------------------------------------------------------------


def test_every_dockerfile_frontend_is_pinned_by_digest() -> None:
    assert frontend_problems(ROOT) == []


def test_every_reference_service_dockerfile_names_its_pinned_frontend_first() -> None:
    found = dockerfiles(ROOT / "examples")
    assert {path.parent.name for path in found} >= {"hello-service", "go-service", "node-service"}
    for path in found:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        # A directive counts only on the first lines, before any comment.
        assert SYNTAX_LINE.fullmatch(first), f"{path}: first line {first!r}"
        assert PINNED_FRONTEND.fullmatch(SYNTAX_LINE.fullmatch(first)["ref"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("# syntax=docker/dockerfile:1", "a moving major tag"),
        ("# syntax = docker/dockerfile:1.25", "a moving minor tag"),
        ("#syntax=docker/dockerfile:1.25.0", "a version without a digest"),
        ("# syntax=docker/dockerfile@sha256:" + "0" * 63, "a short digest"),
        (
            "# syntax=mirror.gcr.io/docker/dockerfile:1.25.0@sha256:" + "a" * 64,
            "a mirror, which Dagger's dockerBuild refuses",
        ),
        ("# SYNTAX=example.com/frontend:1.0.0@sha256:" + "a" * 64, "another frontend"),
    ],
)
def test_the_frontend_check_reports_a_broken_copy(tmp_path: Path, line: str, why: str) -> None:
    service = tmp_path / "examples" / "svc"
    service.mkdir(parents=True)
    original = (ROOT / "examples" / "hello-service" / "Dockerfile").read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    (service / "Dockerfile").write_text(line + "\n" + "".join(lines[1:]), encoding="utf-8")
    (problem,) = frontend_problems(tmp_path)
    assert problem.startswith("examples/svc/Dockerfile:1: frontend"), why


def test_the_frontend_check_reads_dockerfiles_embedded_in_other_files(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text('TEXT = """\\\n# syntax=docker/dockerfile:1\n"""\n')
    assert frontend_problems(tmp_path) == [
        "test_x.py:2: frontend 'docker/dockerfile:1' is not docker/dockerfile:X.Y.Z@sha256:<digest>"
    ]


# --- the shared engine's image ----------------------------------------------------------------


@ENGINE_DIGEST_MISSING
def test_the_shared_engine_image_is_pinned_by_digest() -> None:
    assert engine_problems(ENGINE_DIR, ROOT) == []


def test_the_engine_image_is_set_once_and_only_its_digest_is_missing() -> None:
    # Until the digest is verified, the one problem is the tag-only ref in the
    # common values; no pool file may bring its own image, and no runner host
    # names an unpinned engine.
    assert engine_refs(ENGINE_DIR) == {"values.yaml": "registry.dagger.io/engine:v0.21.11"}
    assert engine_problems(ENGINE_DIR, ROOT) == [
        "values.yaml: engine.image.ref 'registry.dagger.io/engine:v0.21.11' is not "
        "registry.dagger.io/engine:vX.Y.Z@sha256:<digest>"
    ]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ("engine:\n  image:\n    ref: registry.dagger.io/engine:v0.21.11\n", "is not"),
        (
            "engine:\n  image:\n    ref: registry.dagger.io/engine:latest@sha256:" + "a" * 64,
            "is not",
        ),
        ("engine:\n  kind: StatefulSet\n", "no values file sets engine.image.ref"),
    ],
)
def test_the_engine_check_reports_a_broken_copy(tmp_path: Path, values: str, says: str) -> None:
    (tmp_path / "values.yaml").write_text(values, encoding="utf-8")
    problems = engine_problems(tmp_path, tmp_path)
    assert any(says in problem for problem in problems), problems


def test_the_engine_check_passes_a_pinned_copy_and_reads_runner_hosts(tmp_path: Path) -> None:
    pinned = "registry.dagger.io/engine:v0.21.11@sha256:" + "a" * 64
    (tmp_path / "values.yaml").write_text(f"engine:\n  image:\n    ref: {pinned}\n")
    assert engine_problems(tmp_path, tmp_path) == []
    # Spelt in two parts so this file is not a runner host itself.
    runner_host = "image://" + "registry.dagger.io/engine:v0.21.11"
    (tmp_path / "ci.sh").write_text(f"export _EXPERIMENTAL_DAGGER_RUNNER_HOST={runner_host}\n")
    (problem,) = engine_problems(tmp_path, tmp_path)
    assert "ci.sh: runner host" in problem
