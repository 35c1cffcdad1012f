"""The names the Dagger CLI shows for the module's registered functions and arguments.

The engine names a function or argument ``strcase.ToLowerCamel(python_name)``
and the CLI shows ``strcase.ToKebab`` of that; tests/registration/engine_names.py
ports both (digits split words: ``e2e`` would be ``e-2-e``). Flags are
forgiving (the CLI normalises any spelling to kebab case), sub-commands are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.registration.engine_names import cli_name


def registered_cli(
    constructor_args: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]]
) -> tuple[set[str], dict[str, set[str]]]:
    """(constructor flags, {function: its flags}) as the CLI spells them."""
    return (
        {cli_name(name) for name in constructor_args},
        {cli_name(fn): {cli_name(arg) for arg in args} for fn, args in functions.items()},
    )
