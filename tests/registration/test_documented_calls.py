"""Every `dagger call` line in the docs names functions and flags the module has.

The engine cannot run here, but the module's registered type definitions say
exactly which functions and arguments `dagger call` would accept. A line in a
page, the README or a CI wrapper that names anything else fails here, so the
docs cannot drift from the module.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.graph import Graph
from tests.registration.engine_names import cli_name
from tests.registration.test_registration import MAIN, args_of, functions, objects, typedefs

__all__ = ["typedefs"]  # the fixture, re-exported for this module

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
WRAPPERS = [
    path
    for path in (
        ROOT / ".gitlab-ci.yml",
        ROOT / "Jenkinsfile",
        *sorted((ROOT / ".github").rglob("*.yml")),
    )
    if path.exists()
]


def calls_in(path: Path) -> list[tuple[str, list[str]]]:
    """(where, tokens after `dagger call`) for every call in the file."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in re.finditer(r"dagger call\s+([^`\n|;&]*)", line):
            try:
                words = shlex.split(match.group(1))
            except ValueError:  # a quote closed on a later line: plain split is enough
                words = match.group(1).split()
            found.append((f"{path.relative_to(ROOT)}:{number}", words))
    return found


def flag(word: str) -> str | None:
    """`--aws-access-key-id=env://X` -> `aws-access-key-id`; None for placeholders."""
    if "..." in word or not word.startswith("--"):
        return None
    name = word[2:].split("=", 1)[0]
    return name if name != "progress" else None


def cli_names(names: Iterable[str]) -> dict[str, str]:
    """The CLI's name of each registered name, derived as the engine derives it."""
    return {cli_name(name): name for name in names}


ALL_CALLS = [call for path in DOCUMENTS + WRAPPERS for call in calls_in(path)]


def test_the_docs_show_calls_at_all() -> None:
    assert len(ALL_CALLS) >= 20


@pytest.mark.parametrize(("where", "words"), ALL_CALLS, ids=[where for where, _ in ALL_CALLS])
async def test_documented_call_matches_the_module(
    typedefs: Graph, where: str, words: list[str]
) -> None:
    main = objects(typedefs)[MAIN]
    (constructor,) = main.find("withConstructor")
    constructor_args = cli_names(args_of(constructor.args["function"]))
    fns = cli_names(functions(main))
    rest = list(words)
    while rest and rest[0].startswith("--"):
        name = flag(rest.pop(0))
        assert name is None or name in constructor_args, f"{where}: unknown option --{name}"
    if not rest or rest[0] == "..." or rest[0].isupper() or rest[0].startswith("<"):
        return  # a placeholder such as `dagger call ... FUNCTION`
    word = rest.pop(0)
    assert word in fns, f"{where}: no function {word!r} (the CLI knows {sorted(fns)})"
    function = fns[word]
    known = cli_names(args_of(functions(main)[function]))
    for word in rest:
        if not word.startswith("--"):
            break  # the chain goes on into the returned object
        name = flag(word)
        assert name is None or name in known, f"{where}: {function} has no --{name}"
