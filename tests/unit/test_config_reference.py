"""docs/configuration.md cannot drift from the parser and the config dataclasses.

The page is written by hand (so it can explain), and this test holds it to
the code from both sides:

- every ```toml example on the page parses with ``parse_config``;
- while those examples parse, the keys each table asks for are recorded:
  every key the parser accepts must be documented in that table's key list
  (or as a sub-table heading), and every documented key must be one the
  parser accepts;
- every field of every config dataclass is documented, and each default the
  page shows as a TOML literal equals the dataclass default; "required" is
  only said of fields without one.

A new key or table in ``pipelines/config`` therefore fails here until the
page documents it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines import values
from pipelines.config import PipelineConfig, parse_config
from pipelines.config._reader import Table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

# A block that shows one section alone still needs the one required table.
_MINIMAL_SERVICE = '[service]\nname = "example"\nport = 8080\n\n'

# Dataclass fields whose TOML spelling differs, or that are not keys at all.
_FIELD_ALIASES = {(PipelineConfig, "tests"): "test"}
_NOT_KEYS = {
    ("SuiteConfig", "name"),  # the suite's name is its table's name
    ("PipelineConfig", "deprecations"),  # messages about the file, not a key in it
    ("PipelineConfig", "trust_level"),  # the --trust-level argument, not a key
    ("ToolchainConfig", "workdir_from_stage"),  # whether `workdir` was left out
}

_TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{2,4} (.*)$")
_TABLE_NAME = re.compile(r"`\[\[?([a-z0-9_.]+)\]\]?`")
_KEY_ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([^|]+) \| ([^|]+) \|")
_INDEX = re.compile(r"\[\d+\]")


@dataclasses.dataclass
class Documented:
    """One documented table: its keys and the Default cell of each."""

    keys: dict[str, str] = dataclasses.field(default_factory=dict)


def documented_tables(text: str) -> dict[str, Documented]:
    """Table path -> documented keys, read from the headings and key tables."""
    tables: dict[str, Documented] = {}
    current: list[str] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = _TABLE_NAME.findall(heading.group(1))
            for name in current:
                tables.setdefault(name, Documented())
            continue
        row = _KEY_ROW.match(line)
        if row and current:
            for name in current:
                tables[name].keys[row.group(1)] = row.group(3).strip()
    return tables


def toml_examples(text: str) -> list[str]:
    blocks = [match.group(1) for match in _TOML_BLOCK.finditer(text)]
    return [
        b if re.search(r"^\[service\]", b, re.MULTILINE) else _MINIMAL_SERVICE + b for b in blocks
    ]


def accepted_keys(examples: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Parse each example, recording the keys every table asked for (path -> keys)."""
    asked: dict[str, set[str]] = {}
    real_finish = Table.finish

    def recording_finish(table: Table) -> None:
        path = _INDEX.sub("", table._path)  # [[dependencies]] entries share one table path
        asked.setdefault(path, set()).update(table._seen)
        real_finish(table)

    monkeypatch.setattr(Table, "finish", recording_finish)
    for example in examples:
        parse_config(example, file="docs/configuration.md")
    return asked


def config_dataclasses() -> Iterator[tuple[str, type[Any]]]:
    """(table path pattern, dataclass) for every table reachable from PipelineConfig."""
    pending: list[tuple[str, type[Any]]] = [("", PipelineConfig)]
    while pending:
        path, cls = pending.pop()
        yield path, cls
        for field in dataclasses.fields(cls):
            name = _FIELD_ALIASES.get((cls, field.name), field.name)
            child_path = f"{path}.{name}" if path else name
            hint = typing.get_type_hints(cls)[field.name]
            for inner, suffix in _dataclasses_in(hint):
                pending.append((child_path + suffix, inner))


def _dataclasses_in(hint: Any) -> Iterator[tuple[type[Any], str]]:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and hint.__module__ == values.__name__:
        return  # a value type (a region, a digest) is one string in the TOML, not a table
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        yield hint, ""
    elif origin in (typing.Union, types.UnionType) or origin is tuple:
        for arg in typing.get_args(hint):
            if arg is not Ellipsis:
                yield from _dataclasses_in(arg)
    elif origin is dict:
        # dict[str, SuiteConfig]: one table per key, e.g. [test.unit].
        for inner, suffix in _dataclasses_in(typing.get_args(hint)[1]):
            yield inner, ".*" + suffix


def _default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _as_parsed(value: Any) -> Any:
    """A TOML value the way the config dataclasses store it."""
    if isinstance(value, list):
        return tuple(_as_parsed(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _as_parsed(v)) for k, v in value.items()))
    return value


def _literal(cell: str) -> tuple[bool, Any]:
    """(True, value) when the Default cell is exactly one TOML literal in backticks."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    if not match:
        return False, None
    try:
        return True, tomllib.loads(f"value = {match.group(1)}")["value"]
    except tomllib.TOMLDecodeError:
        return False, None


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_the_page_has_toml_examples_and_key_tables(page: str) -> None:
    assert len(toml_examples(page)) >= 10
    tables = documented_tables(page)
    assert {"service", "build", "scan", "test.unit", "deploy.eks"} <= set(tables)
    assert tables["service"].keys["port"] == "required"


def test_every_example_parses_and_every_accepted_key_is_documented(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = accepted_keys(toml_examples(page), monkeypatch)
    tables = documented_tables(page)
    missing = []
    for path, keys in sorted(asked.items()):
        for key in sorted(keys):
            full = f"{path}.{key}" if path else key
            in_key_table = path in tables and key in tables[path].keys
            as_tables = full in tables or any(t.startswith(f"{full}.") for t in tables)
            if not in_key_table and not as_tables:
                missing.append(full)
    assert not missing, f"accepted by the parser but not documented in {PAGE.name}: {missing}"


def test_every_documented_key_is_accepted_by_the_parser(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = accepted_keys(toml_examples(page), monkeypatch)
    tables = documented_tables(page)
    unexercised = sorted(set(tables) - set(asked))
    assert not unexercised, (
        f"documented tables no TOML example of {PAGE.name} uses, so their keys go unchecked: "
        f"{unexercised}"
    )
    unknown = [
        f"{path}.{key}"
        for path, table in sorted(tables.items())
        for key in table.keys
        if key not in asked[path]
    ]
    assert not unknown, f"documented in {PAGE.name} but refused by the parser: {unknown}"


def test_every_dataclass_field_is_documented_with_its_default(page: str) -> None:
    tables = documented_tables(page)
    problems = []
    for pattern, cls in config_dataclasses():
        paths = [p for p in tables if fnmatch.fnmatchcase(p, pattern)] if pattern else [""]
        if not paths:
            problems.append(f"{cls.__name__}: no table `[{pattern}]` documented")
            continue
        for field in dataclasses.fields(cls):
            if (cls.__name__, field.name) in _NOT_KEYS:
                continue
            key = _FIELD_ALIASES.get((cls, field.name), field.name)
            documented = False
            for path in paths:
                full = f"{path}.{key}" if path else key
                cell = tables[path].keys.get(key) if path else None
                if cell is None:
                    # A sub-table: [deploy.eks], or one table per suite as [test.unit].
                    documented |= any(t == full or t.startswith(f"{full}.") for t in tables)
                    continue
                documented = True
                default = _default_of(field)
                if cell == "required" and default is not dataclasses.MISSING:
                    problems.append(f"`{full}`: documented as required, defaults to {default!r}")
                is_literal, value = _literal(cell)
                if is_literal and _as_parsed(value) != default:
                    problems.append(f"`{full}`: documented default {cell}, the code's {default!r}")
            if not documented:
                problems.append(
                    f"{cls.__name__}.{field.name}: `{key}` is in no table of [{pattern}]"
                )
    assert not problems, "\n".join(problems)


def test_the_deprecation_the_page_shows_is_the_one_the_parser_gives(page: str) -> None:
    deprecated = [example for example in toml_examples(page) if parse_config(example).deprecations]
    assert len(deprecated) == 1, "one example shows the deprecated forge keys of [status]"
    (message,) = parse_config(deprecated[0]).deprecations
    assert f"```text\n{message}\n```" in page


def test_a_broken_page_is_caught(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The checks above must be able to fail: a renamed key, a wrong default
    # and an example with a typo are each reported.
    renamed = page.replace("| `drain_seconds` |", "| `drain_secs` |")
    with pytest.raises(AssertionError, match=r"service\.drain_seconds"):
        test_every_example_parses_and_every_accepted_key_is_documented(renamed, monkeypatch)
    monkeypatch.undo()

    wrong_default = page.replace(
        '| `timeout` | string | `"10m"` |', '| `timeout` | string | `"5m"` |'
    )
    with pytest.raises(AssertionError, match=r"scan\.timeout"):
        test_every_dataclass_field_is_documented_with_its_default(wrong_default)

    typo = page.replace("ignore_unfixed = false\n", "ignore_unfixd = false\n")
    from pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match="ignore_unfixd"):
        accepted_keys(toml_examples(typo), monkeypatch)
