"""How the engine and the dagger CLI name a Python function or argument.

The engine registers a function as ``strcase.ToLowerCamel(python_name)``
(dagger core/gqlformat.go, ``gqlFieldName``) and the CLI shows
``strcase.ToKebab`` of that (cmd/dagger/module_inspect.go, ``cliName``), with
github.com/iancoleman/strcase v0.3.0. Digits split words in both: ``e2e``
is ``e2E`` to the engine and ``e-2-e`` on the CLI. This is a port of those two
functions for ASCII names, checked against strcase's own test cases, so the
documented-calls test derives CLI names exactly as the CLI does.
"""

from __future__ import annotations

import re

_NUMBER_SEQUENCE = re.compile(r"([a-zA-Z])(\d+)([a-zA-Z]?)")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def lower_camel(name: str) -> str:
    """strcase.ToLowerCamel (toCamelInitCase with initCase false)."""
    name = name.strip()
    out: list[str] = []
    cap_next = prev_was_digit = False
    for i, original in enumerate(name):
        is_upper, is_lower = "A" <= original <= "Z", "a" <= original <= "z"
        char = original
        if cap_next:
            char = original.upper() if is_lower else original
        elif i == 0 and is_upper:
            char = original.lower()
        if is_upper or is_lower:
            out.append(char)
            cap_next = prev_was_digit = False
        elif _is_digit(char):
            out.append(char)
            prev_was_digit = cap_next = True
        else:
            cap_next = char in "_ -."
            if cap_next and prev_was_digit and i + 1 < len(name) and _is_digit(name[i + 1]):
                out.append("_")
                prev_was_digit = False
    return "".join(out)


def delimited(name: str, delimiter: str) -> str:
    """strcase.ToDelimited (ToScreamingDelimited, not screaming, nothing ignored)."""
    name = _NUMBER_SEQUENCE.sub(r"\1 \2 \3", name).strip(" ")
    out = ""
    for i, char in enumerate(name):
        changes = False
        if i + 1 < len(name):
            following = name[i + 1]
            changes = ("A" <= char <= "Z" and "a" <= following <= "z") or (
                "a" <= char <= "z" and "A" <= following <= "Z"
            )
        if i > 0 and out[-1] != delimiter and changes:
            if "A" <= char <= "Z":
                out += delimiter + char
            elif "a" <= char <= "z":
                out += char + delimiter
        elif char in " _-":
            out += delimiter
        else:
            out += char
    return out.lower()


def cli_name(python_name: str) -> str:
    """What `dagger call` accepts for a function or argument named ``python_name``."""
    return delimited(lower_camel(python_name), "-")
