"""Every `dagger call` line in the docs, and every line a CI caller leads to, fits the module.

The engine cannot run here, but the module's registered type definitions say
exactly which functions and arguments `dagger call` would accept, under the
names the CLI shows (tests/registration/engine_names.py: a function `e2e` would be
`e-2-e` there, hence `end_to_end`). A line in
a page, the README, or one that a CI file leads to through its entry point
(its inputs decided), that names anything else fails here.

Lines are also held to where they run:

- `dagger call` without `-m` runs in this repository: it must name the
  reference service (`--source=examples/hello-service`);
- a line a service repository runs is `dagger -m "$PIPELINES_MODULE" call`
  (the page includes docs/snippets/module.sh, which pins the release) or
  spells the versioned address itself, at the release pyproject.toml names.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.ci_wrappers import (
    MODULE_ADDRESS,
    call_words,
    caller_lines,
    own_callers,
    read_caller,
    service_callers,
)
from tests.cli_names import registered_cli
from tests.conftest import ROOT
from tests.graph import Graph
from tests.module_release import project_version
from tests.registration.test_registration import MAIN, args_of, functions, objects, typedefs
from tests.service_hooks import DAGGER_VARIANT

__all__ = ["typedefs"]  # the fixture, re-exported for this module

# The pages, and the service-side hook config whose dagger line a page includes.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), DAGGER_VARIANT]
MODULE_SNIPPET = ROOT / "docs" / "snippets" / "module.sh"
VERSIONED = f"{MODULE_ADDRESS}@v{project_version()}"
REFERENCE = "--source=examples/hello-service"
_CALL = re.compile(r"dagger(?:\s+(?:-m|--mod)[ =](\"[^\"]*\"|\S+))?\s+call\s+([^`\n|;&]*)")
_DEFINED = re.compile(r"^\s*(?:export\s+)?PIPELINES_MODULE=(\S+)\s*$", re.M)


def module_of(path: Path) -> str | None:
    """What ``$PIPELINES_MODULE`` is on a page: its own definition or the included snippet."""
    text = path.read_text(encoding="utf-8")
    if '--8<-- "docs/snippets/module.sh"' in text:
        text = MODULE_SNIPPET.read_text(encoding="utf-8")
    defined = _DEFINED.findall(text)
    return defined[0] if len(set(defined)) == 1 else None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with their shell continuations joined, each with the number it starts on."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if pending is not None:
            pending = (pending[0], pending[1] + " " + line.strip())
        else:
            pending = (number, line)
        if pending[1].endswith("\\"):
            pending = (pending[0], pending[1][:-1])
            continue
        joined.append(pending)
        pending = None
    if pending is not None:
        joined.append(pending)
    return joined


def calls_in(path: Path) -> list[tuple[str, str | None, list[str]]]:
    """(where, the -m reference or None, the words after `call`) for every call in the file."""
    found = []
    for number, line in logical_lines(path.read_text(encoding="utf-8")):
        for match in _CALL.finditer(line):
            try:
                words = shlex.split(match.group(2))
            except ValueError:  # a quote closed on a later line: plain split is enough
                words = match.group(2).split()
            module = match.group(1)
            found.append(
                (
                    f"{path.relative_to(ROOT)}:{number}",
                    module.strip('"') if module else None,
                    words,
                )
            )
    return found


def flag(word: str) -> str | None:
    """`--aws-access-key-id=env://X` -> `aws-access-key-id`; None for placeholders."""
    if "..." in word or not word.startswith("--"):
        return None
    name = word[2:].split("=", 1)[0]
    return name if name != "progress" else None


DOCUMENTED = [call for path in DOCUMENTS for call in calls_in(path)]
CALLERS = [*own_callers(), *service_callers()]
LED_TO = [
    (f"{path.relative_to(ROOT)} -> {trigger} line {number}", line)
    for path in CALLERS
    for trigger, lines in caller_lines(read_caller(path)).items()
    for number, line in enumerate(lines, start=1)
]


def test_the_docs_show_calls_at_all() -> None:
    assert len(DOCUMENTED) >= 20
    assert sum(1 for _where, module, _words in DOCUMENTED if module) >= 10
    assert len(LED_TO) == len(CALLERS) * 6  # three triggers, two lines each


def check_words(typedefs: Graph, where: str, words: list[str]) -> None:
    main = objects(typedefs)[MAIN]
    (constructor,) = main.find("withConstructor")
    constructor_flags, function_flags = registered_cli(
        args_of(constructor.args["function"]),
        {name: args_of(fn) for name, fn in functions(main).items()},
    )
    rest = list(words)
    while rest and rest[0].startswith("--"):
        name = flag(rest.pop(0))
        assert name is None or name in constructor_flags, f"{where}: unknown option --{name}"
    if not rest or rest[0] == "..." or rest[0].isupper() or rest[0].startswith("<"):
        return  # a placeholder such as `dagger call ... FUNCTION`
    function = rest.pop(0)
    assert function in function_flags, (
        f"{where}: no function {function!r} on the CLI (its functions: "
        f"{', '.join(sorted(function_flags))})"
    )
    for word in rest:
        if not word.startswith("--"):
            break  # the chain goes on into the returned object
        name = flag(word)
        assert name is None or name in function_flags[function], (
            f"{where}: {function} has no --{name}"
        )


@pytest.mark.parametrize(
    ("where", "module", "words"), DOCUMENTED, ids=[where for where, _m, _w in DOCUMENTED]
)
async def test_documented_call_matches_the_module(
    typedefs: Graph, where: str, module: str | None, words: list[str]
) -> None:
    if words[:1] == ["..."]:
        pass  # prose: `dagger call ... test`
    elif module is None:
        assert REFERENCE in words, (
            f"{where}: `dagger call` runs this repository's module: name the reference service "
            f'({REFERENCE}), or write the line a service runs: dagger -m "$PIPELINES_MODULE" '
            "call --source=. ..."
        )
    elif module == "$PIPELINES_MODULE":
        page = ROOT / where.rsplit(":", 1)[0]
        assert module_of(page) == VERSIONED, (
            f"{where}: $PIPELINES_MODULE must be {VERSIONED} on this page: include "
            '--8<-- "docs/snippets/module.sh" before the line'
        )
    else:
        assert module == VERSIONED, f"{where}: -m {module}: write {VERSIONED} (the release)"
    check_words(typedefs, where, words)


@pytest.mark.parametrize(("where", "line"), LED_TO, ids=[where for where, _ in LED_TO])
async def test_every_line_a_ci_file_leads_to_matches_the_module(
    typedefs: Graph, where: str, line: tuple[str, ...]
) -> None:
    module, words = call_words(line)
    assert module in (VERSIONED, "."), f"{where}: loads {module}"
    check_words(typedefs, where, list(words))


def test_the_module_snippet_pins_the_release() -> None:
    assert module_of(MODULE_SNIPPET) == VERSIONED


async def test_a_wrong_line_fails(typedefs: Graph) -> None:
    with pytest.raises(AssertionError, match="no function 'e2e' on the CLI"):
        check_words(typedefs, "here", ["--source=.", "e2e"])
    with pytest.raises(AssertionError, match="pre-merge has no --commit"):
        check_words(typedefs, "here", ["pre-merge", "--commit=x"])
    check_words(typedefs, "here", ["--source=.", "end-to-end"])
