"""The await seam: scripted answers for the few SDK calls a Dagger function awaits.

A Dagger function builds its graph lazily and awaits only to read results.
:func:`install` replaces those awaits (``exit_code``, ``exists``,
``contents``, ...) with answers from a script and records the graph each
await was made on, so a caller can read the exact query the function would
send to an engine without one. It proves the plan, not the run: the engine
tier does that. Used by the plan tests (the ``seam`` fixture) and by
``benchmarks/cache_stability.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagger
from dagger import dag

from tests.graph import Call, Graph, render, render_value

# Sets an attribute for the duration of a test or a benchmark run
# (pytest's monkeypatch.setattr, or an ExitStack of mock.patch.object).
Patch = Callable[[Any, str, Any], None]


@dataclass
class Seam:
    """Scripted answers for awaited SDK calls, and the graphs they were made on."""

    answers: dict[str, Callable[[Graph], Any]] = field(default_factory=dict)
    calls: list[tuple[str, Graph]] = field(default_factory=list)
    # Contents of files read from containers (reports), by absolute path.
    files: dict[str, str] = field(default_factory=dict)
    # The exit code of each probe of the app's health and readiness paths
    # (a curl container), answered apart from the suites' own commands.
    probe_exit: Callable[[Graph], int] = field(default=lambda _g: 0)

    def graphs(self, method: str) -> list[Graph]:
        return [graph for name, graph in self.calls if name == method]

    def commands(self, method: str = "Container.exit_code") -> list[Graph]:
        """The awaited graphs of ``method`` that are not probes of the app."""
        return [graph for graph in self.graphs(method) if not is_probe(graph)]


def is_probe(graph: Graph) -> bool:
    """A graph whose last command is the probe of the app's health or readiness path."""
    execs = graph.find("withExec")
    return bool(execs) and execs[-1].args["args"][0] == "curl"


def install(patch: Patch, reference_service: Path) -> Seam:
    """Answer awaits from the reference service's files and a scripted exec result."""
    state = Seam()
    state.answers.update(
        {
            "Directory.entries": lambda _g: sorted(p.name for p in reference_service.iterdir()),
            "Directory.exists": lambda g: _exists(g, reference_service),
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

    def answer_await(cls: type, method: str) -> None:
        key = f"{cls.__name__}.{method}"

        async def answer(self: Any, *args: Any, **kwargs: Any) -> Any:
            graph = render(self)
            if args or kwargs:  # e.g. exists(path): record the argument as a call
                graph = Graph(graph.type_name, (*graph.calls, _pseudo(method, args, kwargs)))
            state.calls.append((key, graph))
            if is_probe(graph) and key == "Container.exit_code":
                return state.probe_exit(graph)
            return state.answers[key](graph)

        patch(cls, method, answer)

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
        answer_await(cls, method)

    async def start(self: dagger.Service) -> dagger.Service:
        state.calls.append(("Service.start", render(self)))
        return self

    patch(dagger.Service, "start", start)
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


def manifests() -> dagger.Directory:
    """What CI passes as --manifests for the reference service: a tree with its dev overlay.

    (CI passes the repository root, where the overlays live; a lazy directory
    holding the overlay's kustomization stands for it here.)
    """
    return dag.directory().with_new_file("deploy/overlays/dev/kustomization.yaml", "{}\n")


def _exists(graph: Graph, root: Path) -> bool:
    """A path the directory's own graph created, else one of the reference service."""
    path = _last_arg(graph, "path")
    made = {str(c.args.get("path")) for c in graph.find("withNewFile")}
    return path in made or (root / path).exists()


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
