"""Documents nested deeper than the parsers recurse get an error naming the file, not a traceback.

tomllib and json recurse once per level of nesting: about 500 levels of
``[`` exhaust Python's recursion limit with a RecursionError.
"""

from __future__ import annotations

import pytest

from pipelines.commit_msg import ticket_pattern
from pipelines.config import ConfigError, parse_config
from pipelines.errors import InputError
from pipelines.versions import release_version

DEEP = 5000


def nested(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def test_the_parsers_really_recurse_that_deep() -> None:
    # What the tests below guard against: without the handling, a traceback.
    import json
    import tomllib

    with pytest.raises(RecursionError):
        tomllib.loads(f"a = {nested()}")
    with pytest.raises(RecursionError):
        json.loads(nested(200_000))


@pytest.mark.parametrize("text", [f"a = {nested()}", "a = " + "{b = " * DEEP + "1" + "}" * DEEP])
def test_a_deeply_nested_pipelines_toml_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.file == "pipelines.toml"
    assert "nested too deeply" in caught.value.problem


def test_a_deeply_nested_pyproject_is_named_when_reading_the_ticket_pattern() -> None:
    with pytest.raises(ConfigError) as caught:
        ticket_pattern(environ={}, pyproject_text=f"a = {nested()}")
    assert caught.value.file == "pyproject.toml"
    assert "nested too deeply" in caught.value.problem


@pytest.mark.parametrize(
    ("name", "text"),
    [("pyproject.toml", f"a = {nested()}"), ("package.json", nested(200_000))],
)
def test_a_deeply_nested_version_file_is_passed_over_with_the_reason(name: str, text: str) -> None:
    with pytest.raises(InputError) as caught:
        release_version(None, {name: text})
    assert f"{name} is not valid" in caught.value.problem
    assert "nested too deeply" in caught.value.problem
