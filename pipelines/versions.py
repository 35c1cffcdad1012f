"""The release version: ``--version``, else what the project already declares.

A service keeps its version where its own tools read it; release reads it
from the first of these files in the service directory that declares one:

1. ``VERSION``: one line (any language; Go, which declares none, uses this);
2. ``package.json``: ``"version"`` (npm);
3. ``pyproject.toml``: ``[project] version``, else ``[tool.poetry] version``;
4. ``pom.xml``: the project's own ``<version>`` (not its parent's).

A file that is there but declares no literal version (``dynamic =
["version"]``, ``${revision}``) is passed over, and said so if no later file
declares one: the error lists each file and why it did not count.
"""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET  # the service's own pom.xml; expat refuses entity bombs
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.errors import InputError

VERSION_FILE = "VERSION"


@dataclass(frozen=True, kw_only=True)
class DeclaredVersion:
    version: str
    # The file it was read from; None when it came from --version.
    file: str | None


class NotDeclared(Exception):
    """The file is there but declares no version release can use; the reason says why."""


def _version_file(text: str) -> str:
    version = text.strip()
    if not version or "\n" in version:
        raise NotDeclared(f"must hold one version on one line, got {version!r}")
    return version


def _package_json(text: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotDeclared(f"is not valid JSON ({error})") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise NotDeclared("is not valid JSON (nested too deeply to read)") from None
    return _literal(data.get("version") if isinstance(data, dict) else None, '"version"')


def _pyproject(text: str) -> str:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise NotDeclared(f"is not valid TOML ({error})") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise NotDeclared("is not valid TOML (nested too deeply to read)") from None
    project = data.get("project", {})
    if "version" in project:
        return _literal(project["version"], "[project] version")
    if "version" in project.get("dynamic", []):
        raise NotDeclared('declares `dynamic = ["version"]`: the version is computed at build time')
    poetry = data.get("tool", {}).get("poetry", {})
    return _literal(poetry.get("version"), "[project] version (or [tool.poetry] version)")


_POM = "{http://maven.apache.org/POM/4.0.0}"


def _pom(text: str) -> str:
    try:
        root = ET.fromstring(text)  # noqa: S314 - no entity expansion in ElementTree's defaults
    except ET.ParseError as error:
        raise NotDeclared(f"is not valid XML ({error})") from None
    # The project's own <version>, a direct child of <project>; <parent><version> is not it.
    element = root.find(f"{_POM}version")
    if element is None:
        element = root.find("version")
    value = element.text.strip() if element is not None and element.text else None
    if value is not None and "${" in value:
        raise NotDeclared(f"<version> is {value!r}: a property Maven fills in, not a literal")
    return _literal(value, "<project><version>")


def _literal(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NotDeclared(f"declares no {what}")
    return value.strip()


# In the order release reads them (docs/pipelines/release.md).
SOURCES: tuple[tuple[str, Callable[[str], str]], ...] = (
    (VERSION_FILE, _version_file),
    ("package.json", _package_json),
    ("pyproject.toml", _pyproject),
    ("pom.xml", _pom),
)
FILES = tuple(name for name, _ in SOURCES)


def release_version(given: str | None, files: Mapping[str, str | None]) -> DeclaredVersion:
    """``given`` (--version), else the first declaration in ``files`` (name -> text;
    None or absent: no such file); an InputError says what was looked at."""
    if given is not None:
        return DeclaredVersion(version=given, file=None)
    passed_over = []
    for name, read in SOURCES:
        text = files.get(name)
        if text is None:
            continue
        try:
            return DeclaredVersion(version=read(text), file=name)
        except NotDeclared as reason:
            passed_over.append(f"{name} {reason}")
    looked = ", ".join(FILES)
    found = "; ".join(passed_over) if passed_over else f"none of {looked} is there"
    raise InputError(
        argument="version",
        problem=f"no --version, and the service declares none: {found}",
        fix=f"pass --version=1.4.0, or declare it in one of {looked} (read in that order)",
    )
