"""Plan-tier fixtures: lazy inputs, the reference config, and the await seam.

A Dagger function builds its graph lazily and awaits only to read results.
The ``seam`` fixture answers those few awaits (``exit_code``, ``exists``,
``contents``, ...) from a script and records the graph each await was made
on, so a test can read the exact query the function would send to an engine
without one. It proves the plan, not the run: the engine tier does that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import dagger
import pytest
from dagger import dag

from ci._sdk import FunctionError
from pipelines.config import PipelineConfig, parse_config
from tests.conftest import REFERENCE_SERVICE
from tests.graph import Call, Graph, render, render_value

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


@dataclass
class Seam:
    """Scripted answers for awaited SDK calls, and the graphs they were made on."""

    answers: dict[str, Callable[[Graph], Any]] = field(default_factory=dict)
    calls: list[tuple[str, Graph]] = field(default_factory=list)
    # Contents of files read from containers (reports), by absolute path.
    files: dict[str, str] = field(default_factory=dict)

    def graphs(self, method: str) -> list[Graph]:
        return [graph for name, graph in self.calls if name == method]


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch, reference_service: Path) -> Seam:
    """Answer awaits from the reference service's files and a scripted exec result."""
    state = Seam()
    state.answers.update(
        {
            "Directory.entries": lambda _g: sorted(p.name for p in reference_service.iterdir()),
            "Directory.exists": lambda g: (reference_service / _last_arg(g, "path")).exists(),
            "File.contents": lambda g: _file_contents(g, reference_service, state.files),
            "Container.exit_code": lambda _g: 0,
            "Container.exists": lambda _g: True,
            "Container.combined_output": lambda _g: "",
            "Container.stdout": lambda _g: "",
            "Container.sync": lambda _g: None,
            "Container.publish": _published,
            "Secret.plaintext": _plaintext,
        }
    )

    def patch(cls: type, method: str) -> None:
        key = f"{cls.__name__}.{method}"

        async def answer(self: Any, *args: Any, **kwargs: Any) -> Any:
            graph = render(self)
            if args or kwargs:  # e.g. exists(path): record the argument as a call
                graph = Graph(graph.type_name, (*graph.calls, _pseudo(method, args, kwargs)))
            state.calls.append((key, graph))
            return state.answers[key](graph)

        monkeypatch.setattr(cls, method, answer)

    for cls, method in (
        (dagger.Directory, "entries"),
        (dagger.Directory, "exists"),
        (dagger.File, "contents"),
        (dagger.Container, "exit_code"),
        (dagger.Container, "exists"),
        (dagger.Container, "combined_output"),
        (dagger.Container, "stdout"),
        (dagger.Container, "sync"),
        (dagger.Container, "publish"),
        (dagger.Secret, "plaintext"),
    ):
        patch(cls, method)

    async def start(self: dagger.Service) -> dagger.Service:
        state.calls.append(("Service.start", render(self)))
        return self

    monkeypatch.setattr(dagger.Service, "start", start)
    return state


def _pseudo(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    named = {key: render_value(value) for key, value in kwargs.items()}
    if args:
        named["path"] = args[0]
    return Call(type_name="await", name=method, args=named)


def _published(graph: Graph) -> str:
    """What a registry answers: the address with a digest derived from it."""
    address = str(graph.calls[-1].args["path"])
    return f"{address}@sha256:{_digest_of(address)}"


def _plaintext(graph: Graph) -> str:
    (created,) = graph.find("setSecret")
    return str(created.args["plaintext"])


def _last_arg(graph: Graph, name: str) -> str:
    return str(graph.calls[-1].args[name])


def _file_contents(graph: Graph, root: Path, files: dict[str, str]) -> str:
    """A scripted file (by path), else the file of that name in the reference service."""
    path = str(graph.find("file")[-1].args["path"])
    if path in files:
        return files[path]
    if path.startswith("/"):
        raise FileNotFoundError(f"plan test read {path} without scripting it in seam.files")
    return (root / path).read_text()


def _digest_of(address: str) -> str:
    repository = address.rsplit(":", maxsplit=1)[0]
    return hashlib.sha256(repository.encode()).hexdigest()
