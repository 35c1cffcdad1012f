"""The module's release: one version, named the same everywhere, with its changelog entry.

A release of Portable Pipelines is one git tag, ``vX.Y.Z``, on this
repository: the Dagger module (``dagger -m github.com/acme/portable-pipelines@vX.Y.Z``),
the GitHub reusable workflow, the GitLab component and the Jenkins library
are all that tag. Before the tag exists, this checks that

- ``pyproject.toml``'s ``version`` is ``X.Y.Z``;
- ``CHANGELOG.md`` has a dated ``## [X.Y.Z] - YYYY-MM-DD`` entry, the newest,
  right under ``## [Unreleased]``, and it says something;
- every versioned address in the docs, the README, the service-side files and
  the entry points' own comments names ``vX.Y.Z``, so what a newcomer copies
  is the release being made.

The release workflow (.github/workflows/release-module.yml) runs it, then tags;
a developer runs the same thing before asking for a release::

    python -m tests.module_release check 0.2.0
    python -m tests.module_release notes 0.2.0 > notes.md
"""

from __future__ import annotations

import datetime
import re
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\S+))?\s*$", re.M)
# A module version written next to the module's name: an address, a `uses:`,
# a component, a @Library, a toolchain source, a version input, or the hooks'
# pre-commit `rev:` (the service-side hook configs name no other repository).
_VERSIONED = re.compile(
    r"portable-pipelines[\w./-]*@v(?P<a>[0-9][\w.-]*)"
    r"|(?:module-version|moduleVersion)\s*:\s*['\"]?v(?P<b>[0-9][\w.-]*)"
    r"|^\s*rev\s*:\s*['\"]?v(?P<c>[0-9][\w.-]*)"
)


def project_version(root: Path = ROOT) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(project["version"])


def changelog_sections(root: Path = ROOT) -> list[tuple[str, str | None, str]]:
    """(name, date, body) of every ``## [...]`` section, newest first."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    matches = list(_HEADING.finditer(text))
    sections = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = re.sub(r"^\[[^\]]+\]: .*$", "", text[match.end() : end], flags=re.M).strip()
        sections.append((match.group("name"), match.group("date"), body))
    return sections


def versioned_files(root: Path = ROOT) -> Iterator[Path]:
    """Where a service-facing module version is written."""
    yield root / "README.md"
    yield from sorted((root / "docs").rglob("*.md"))
    yield from sorted(p for p in (root / "docs" / "snippets").rglob("*") if p.is_file())
    yield root / ".github" / "workflows" / "pipelines.yml"
    yield root / "templates" / "pipelines" / "template.yml"
    yield root / "vars" / "portablePipelines.groovy"


def version_problems(version: str, root: Path = ROOT) -> list[str]:
    problems = []
    for path in versioned_files(root):
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in _VERSIONED.finditer(line):
                found = match.group("a") or match.group("b") or match.group("c")
                if found != version:
                    problems.append(
                        f"{path.relative_to(root)}:{number}: names v{found}, not the release "
                        f"v{version}: update it with the others"
                    )
    return problems


def release_problems(version: str | None = None, root: Path = ROOT) -> list[str]:
    """Everything that stops ``version`` (default: pyproject's) from being released."""
    declared = project_version(root)
    problems = []
    if version is not None:
        if version.startswith("v") or not VERSION.fullmatch(version):
            return [f"release version {version!r}: give X.Y.Z (the tag will be vX.Y.Z)"]
        if version != declared:
            problems.append(
                f"pyproject.toml: version is {declared}, not {version}: set it (and run "
                "`uv lock --python 3.12`) in the release's pull request"
            )
    version = version or declared
    sections = changelog_sections(root)
    names = [name for name, _date, _body in sections]
    if names[:1] != ["Unreleased"]:
        problems.append("CHANGELOG.md: the first section must be ## [Unreleased]")
    releases = [(name, date, body) for name, date, body in sections if name != "Unreleased"]
    if not releases or releases[0][0] != version:
        newest = releases[0][0] if releases else "none"
        problems.append(
            f"CHANGELOG.md: the newest release is {newest}, not {version}: move the "
            f"Unreleased notes under ## [{version}] - YYYY-MM-DD"
        )
    else:
        _name, date, body = releases[0]
        try:
            datetime.date.fromisoformat(str(date))
        except ValueError:
            problems.append(f"CHANGELOG.md: ## [{version}] needs its date, - YYYY-MM-DD")
        if not body:
            problems.append(f"CHANGELOG.md: ## [{version}] says nothing")
    problems.extend(version_problems(version, root))
    return problems


def release_notes(version: str, root: Path = ROOT) -> str:
    for name, _date, body in changelog_sections(root):
        if name == version:
            return body + "\n"
    raise SystemExit(f"CHANGELOG.md: no ## [{version}] section")


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    if not argv or argv[0] not in ("check", "notes") or len(argv) > 2:
        sys.stderr.write("usage: python -m tests.module_release check|notes [X.Y.Z]\n")
        return 2
    version = argv[1] if len(argv) == 2 else None
    if argv[0] == "notes":
        sys.stdout.write(release_notes(version or project_version()))
        return 0
    problems = release_problems(version)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if not problems:
        sys.stdout.write(f"v{version or project_version()} is ready to tag\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
