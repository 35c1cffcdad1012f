"""A small typed reader over one TOML table that reports errors precisely.

Each section module asks the reader for its keys with the type it expects;
the reader raises :class:`ConfigError` naming the file, the dotted key, what
was expected and how to fix it, and ``finish()`` rejects unknown keys with a
"did you mean" hint. Keeping this in one place is what lets every section
give the same quality of error without repeating itself.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from typing import Any, NoReturn

from pipelines.errors import ConfigError, did_you_mean, raise_all
from pipelines.values import is_digest_pinned

_MISSING: Any = object()


def _type_name(value: object) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


class Table:
    """Typed access to one table of a TOML document; tracks the keys read."""

    def __init__(self, data: Mapping[str, Any], *, file: str, path: str) -> None:
        self._data = data
        self._file = file
        self._path = path
        self._seen: set[str] = set()
        # The example value of each key read: what checking goes on with past a problem.
        self._examples: dict[str, str] = {}

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def fail(self, name: str | None, problem: str, fix: str, *, goes_on: bool = False) -> NoReturn:
        """Raise the problem with ``name``. ``goes_on``: the check looked at this value
        alone, so checking may go on with the key's example in its place (other keys
        do not depend on what the user meant by it)."""
        example = self._examples.get(name) if goes_on and name is not None else None
        raise ConfigError(
            file=self._file,
            key=self.key(name) if name is not None else (self._path or None),
            problem=problem,
            fix=fix,
            goes_on=goes_on,
            substitute=_toml_value(example) if example is not None else None,
        )

    def has(self, name: str) -> bool:
        return name in self._data

    def _get(self, name: str, default: Any, expected: str, example: str) -> Any:
        self._seen.add(name)
        self._examples[name] = example
        if name in self._data:
            return self._data[name]
        if default is _MISSING:
            typo = difflib.get_close_matches(name, [str(k) for k in self._data], n=1, cutoff=0.6)
            found = f'; found "{typo[0]}": a typo?' if typo else ""
            raise ConfigError(
                file=self._file,
                key=self.key(name),
                problem=f"required key is missing (expected {expected}){found}",
                fix=f"add `{name} = {example}` under [{self._path}]",
                goes_on=True,
                substitute=self._data[typo[0]] if typo else _toml_value(example),
                typo=typo[0] if typo else None,
            )
        return default

    def _wrong(self, name: str, value: object, expected: str, example: str) -> NoReturn:
        self._shape(
            name,
            f"expected {expected}, got {_type_name(value)} {value!r}",
            f"write it as `{name} = {example}`",
        )

    def string(self, name: str, default: Any = _MISSING, *, example: str = '"..."') -> Any:
        value = self._get(name, default, "a string", example)
        if value is not default and not isinstance(value, str):
            self._wrong(name, value, "a string", example)
        if isinstance(value, str) and not value.strip():
            self._shape(name, "must not be empty", f"write it as `{name} = {example}`")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default, "a boolean", "true")
        if value is not default and not isinstance(value, bool):
            self._wrong(name, value, "a boolean (true or false)", "true")
        return value

    def integer(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        example: str = "1",
    ) -> Any:
        value = self._get(name, default, "an integer", example)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(name, value, "an integer", example)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self._shape(
                name,
                f"expected an integer {bounds}, got {value}",
                f"write it as `{name} = {example}`",
            )
        return value

    def str_list(self, name: str, default: Any = _MISSING, *, example: str = '["..."]') -> Any:
        value = self._get(name, default, "an array of strings", example)
        if value is default:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self._wrong(name, value, "an array of non-empty strings", example)
        return tuple(value)

    def argv(self, name: str, default: Any = _MISSING) -> Any:
        """One command as an argument list: never a shell string."""
        example = '["pytest", "-q"]'
        value = self._get(name, default, "a command as an array of strings", example)
        if value is default:
            return value
        if isinstance(value, str):
            self._shape(
                name,
                f"commands are argument lists, not shell strings; got {value!r}",
                f"split it into arguments: `{name} = {_as_argv(value)}`",
            )
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self._wrong(name, value, "a non-empty array of strings", example)
        return tuple(value)

    def argv_list(self, name: str, default: Any = _MISSING) -> Any:
        """Several commands, each an argument list."""
        example = '[["ruff", "check", "."], ["mypy", "."]]'
        value = self._get(name, default, "an array of commands", example)
        if value is default:
            return value
        if not isinstance(value, list) or not value:
            self._wrong(name, value, "a non-empty array of commands", example)
        commands = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                self._shape(
                    f"{name}[{index}]",
                    f"commands are argument lists, not shell strings; got {item!r}",
                    f"write it as {_as_argv(item)}",
                )
            if not isinstance(item, list) or not item or not all(isinstance(v, str) for v in item):
                self._wrong(
                    f"{name}[{index}]", item, "a non-empty array of strings", '["pytest", "-q"]'
                )
            commands.append(tuple(item))
        return tuple(commands)

    def str_map(self, name: str, default: Any = _MISSING) -> Any:
        example = '{ KEY = "value" }'
        value = self._get(name, default, "a table of strings", example)
        if value is default:
            return value
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self._wrong(name, value, "a table of string values", example)
        return tuple(sorted(value.items()))

    def required_table(self, name: str) -> Table:
        table = self.table(name)
        if table is None:
            self._shape(name, "required table is missing", f"add a [{self.key(name)}] table")
        return table

    def table(self, name: str) -> Table | None:
        self._seen.add(name)
        if name not in self._data:
            return None
        value = self._data[name]
        if not isinstance(value, dict):
            self._wrong(name, value, "a table", "{ ... }")
        return Table(value, file=self._file, path=self.key(name))

    def tables(self, name: str) -> tuple[Table, ...]:
        """An array of tables (``[[name]]``)."""
        self._seen.add(name)
        value = self._data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self._wrong(name, value, "an array of tables", f"[[{self.key(name)}]]")
        return tuple(
            Table(v, file=self._file, path=f"{self.key(name)}[{i}]") for i, v in enumerate(value)
        )

    def image(self, name: str, default: Any = _MISSING) -> Any:
        """A container image reference that must be pinned by digest."""
        example = '"docker.io/library/postgres:16@sha256:<64 hex digits>"'
        value = self.string(name, default, example=example)
        if isinstance(value, str) and not is_digest_pinned(value):
            self._shape(
                name,
                f"image {value!r} is not pinned by digest",
                "append the digest: `docker buildx imagetools inspect IMAGE` prints it; "
                f"write `{name} = {example}`",
            )
        return value

    def _shape(self, name: str | None, problem: str, fix: str) -> NoReturn:
        """A value of the wrong type, empty, out of range or missing: checking goes on."""
        self.fail(name, problem, fix, goes_on=True)

    def finish(self) -> None:
        """Reject keys nobody asked for (almost always typos), all of them at once."""
        unknown = [
            ConfigError(
                file=self._file,
                key=self.key(name),
                problem=f"unknown key{did_you_mean(name, self._seen)}",
                goes_on=True,
                fix="remove it, or correct its spelling; known keys: "
                + ", ".join(sorted(self._seen)),
            )
            for name in self._data
            if name not in self._seen
        ]
        raise_all(unknown)


def _toml_value(example: str) -> object:
    """The value an example stands for, or None when it is a placeholder, not TOML."""
    try:
        return tomllib.loads(f"value = {example}")["value"]
    except tomllib.TOMLDecodeError:
        return None


def _as_argv(command: str) -> str:
    return "[" + ", ".join(f'"{part}"' for part in command.split()) + "]"
