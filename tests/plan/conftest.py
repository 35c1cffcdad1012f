"""Plan-tier fixtures: lazy inputs, the reference config, and the await seam.

A Dagger function builds its graph lazily and awaits only to read results.
The ``seam`` fixture answers those few awaits (``exit_code``, ``exists``,
``contents``, ...) from a script and records the graph each await was made
on, so a test can read the exact query the function would send to an engine
without one. It proves the plan, not the run: the engine tier does that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import boto3
import dagger
import pytest
from dagger import dag
from moto import mock_aws

from ci._sdk import FunctionError
from pipelines.config import PipelineConfig, parse_config
from pipelines.errors import InputError
from tests.conftest import REFERENCE_SERVICE
from tests.plan.doubles import StatusRecorder
from tests.plan.seam import Seam, install

E = TypeVar("E", bound=BaseException)


@dataclass
class Caught(Generic[E]):
    """The error a Dagger function failed with, as the user's code raised it."""

    value: E = field(init=False)


@contextmanager
def fails_with(kind: type[E], match: str | None = None) -> Iterator[Caught[E]]:
    """The call fails as the Dagger CLI shows it: a FunctionError with the message
    of the project's own error (kept as its cause), and no traceback."""
    caught: Caught[E] = Caught()
    with pytest.raises(FunctionError) as info:
        yield caught
    cause = info.value.__cause__
    assert isinstance(cause, kind), f"expected {kind.__name__}, got {cause!r}"
    assert str(info.value) == str(cause), "the user sees the error's own message"
    if match is not None:
        assert re.search(match, str(cause)), f"{match!r} not in {str(cause)!r}"
    caught.value = cause


@pytest.fixture
def reference_config() -> PipelineConfig:
    path = REFERENCE_SERVICE / "pipelines.toml"
    return parse_config(path.read_text(), file=str(path))


@pytest.fixture
def lazy_source() -> dagger.Directory:
    return dag.directory()


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch, reference_service: Path) -> Seam:
    """Answer awaits from the reference service's files and a scripted exec result."""
    return install(monkeypatch.setattr, reference_service)


@pytest.fixture
def ecr() -> Iterator[Any]:
    """ECR in moto's in-process mock (no socket)."""
    with mock_aws():
        yield boto3.client("ecr", region_name="eu-west-1")


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> StatusRecorder:
    """Commit statuses go to a recorder; a missing token fails as the forge layer would."""
    recorder = StatusRecorder()

    def make(config: Any, token: str | None, *, argument: str, **_: Any) -> StatusRecorder:
        if not token:
            raise InputError(argument=argument, problem="no token", fix="pass one")
        recorder.tokens.append(token)
        return recorder

    monkeypatch.setattr("pipelines.forge.make_forge", make)
    return recorder
