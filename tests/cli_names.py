"""The names the Dagger CLI shows for the module's functions and arguments.

The engine names a function or argument ``strcase.ToLowerCamel(python_name)``
and the CLI shows ``strcase.ToKebab`` of that (cmd/dagger/module_inspect.go,
``cliName``; github.com/iancoleman/strcase). Digits split words, so the
Python function ``e2e`` is the engine's ``e2E`` and the CLI's ``e-2-e``
(dagger issue #7276): a documented ``dagger call ... e2e`` would be an unknown
command. Flags are forgiving (the CLI normalises any spelling to kebab case),
sub-commands are not. These ports follow strcase v0.3 byte by byte, for ASCII.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _is_cap(c: str) -> bool:
    return "A" <= c <= "Z"


def _is_low(c: str) -> bool:
    return "a" <= c <= "z"


def _is_num(c: str) -> bool:
    return "0" <= c <= "9"


def to_lower_camel(name: str) -> str:
    """strcase.ToLowerCamel."""
    text = name.strip()
    out = []
    cap_next = False
    prev_cap = False
    for index, original in enumerate(text):
        cap, low = _is_cap(original), _is_low(original)
        char = original
        if cap_next:
            char = original.upper() if low else original
        elif index == 0:
            char = original.lower() if cap else original
        elif prev_cap and cap:
            char = original.lower()
        prev_cap = cap
        if cap or low:
            out.append(char)
            cap_next = False
        elif _is_num(char):
            out.append(char)
            cap_next = True
        else:
            cap_next = char in "_ -."
    return "".join(out)


def to_kebab(name: str) -> str:
    """strcase.ToKebab (ToScreamingDelimited with '-', no ignore, not screaming)."""
    text = name.strip()
    out = []
    for index, original in enumerate(text):
        cap, low, num = _is_cap(original), _is_low(original), _is_num(original)
        char = original.lower() if cap else original
        if index + 1 < len(text):
            following = text[index + 1]
            next_cap, next_low, next_num = (
                _is_cap(following),
                _is_low(following),
                _is_num(following),
            )
            if (
                (cap and (next_low or next_num))
                or (low and (next_cap or next_num))
                or (num and (next_cap or next_low))
            ):
                if cap and next_low and index > 0 and _is_cap(text[index - 1]):
                    out.append("-")
                out.append(char)
                if low or num or next_num:
                    out.append("-")
                continue
        out.append("-" if char in " _-." else char)
    return "".join(out)


def cli_name(python_name: str) -> str:
    return to_kebab(to_lower_camel(python_name))


def registered_cli(
    constructor_args: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]]
) -> tuple[set[str], dict[str, set[str]]]:
    """(constructor flags, {function: its flags}) as the CLI spells them."""
    return (
        {cli_name(name) for name in constructor_args},
        {cli_name(fn): {cli_name(arg) for arg in args} for fn, args in functions.items()},
    )
