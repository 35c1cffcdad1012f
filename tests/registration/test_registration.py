"""Registration tier: the engine will accept the module's type definitions.

The SDK builds its type definitions lazily from the decorated classes; only
the final ``Module.id`` would reach an engine. With that one call answered
here, ``_typedefs()`` runs every conversion the engine's registration runs,
and unsupported argument types raise TypeError exactly as they would there.
"""

from __future__ import annotations

import json
from typing import Any

import dagger
import pytest
from dagger.client.gen import Module

from ci.main import PortablePipelines
from pipelines.caches import DEFAULT_TRUST_LEVEL
from pipelines.config import parse_config
from tests.conftest import REFERENCE_SERVICE
from tests.graph import Graph, render

MAIN = "PortablePipelines"


def as_main(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The SDK's module builder, told (as the engine tells it by env) which object is main."""
    module = PortablePipelines.__dagger_module__  # type: ignore[attr-defined]
    monkeypatch.setattr(module, "_main_name", MAIN)
    monkeypatch.setattr(module, "_main", module._objects[MAIN])
    return module


@pytest.fixture
async def typedefs(monkeypatch: pytest.MonkeyPatch) -> Graph:
    module = as_main(monkeypatch)
    captured: list[Module] = []

    async def module_id(self: Module) -> str:
        captured.append(self)
        return "module-id"

    monkeypatch.setattr(Module, "id", module_id)
    assert await module._typedefs() == "module-id"
    return render(captured[0])


def objects(graph: Graph) -> dict[str, Graph]:
    """Each registered object's type definition, by name."""
    found = {}
    for call in graph.find("withObject"):
        typedef = call.args["object"]
        (with_object,) = typedef.find("withObject")
        found[with_object.args["name"]] = typedef
    return found


def functions(typedef: Graph) -> dict[str, Graph]:
    return {
        call.args["function"].find("function")[0].args["name"]: call.args["function"]
        for call in typedef.find("withFunction")
    }


def args_of(function: Graph) -> dict[str, dict[str, Any]]:
    return {call.args["name"]: call.args for call in function.find("withArg")}


async def test_main_object_registers_with_its_functions(typedefs: Graph) -> None:
    objs = objects(typedefs)
    assert MAIN in objs
    fns = functions(objs[MAIN])
    assert {"lint", "test", "test_report", "build"} <= set(fns)


async def test_lint_and_test_are_checks_and_others_are_not(typedefs: Graph) -> None:
    fns = functions(objects(typedefs)[MAIN])
    checks = {name for name, fn in fns.items() if fn.find("withCheck")}
    assert {"lint", "test"} <= checks
    assert "build" not in checks
    assert "test_report" not in checks


async def test_constructor_takes_the_source_directory_with_ignores(typedefs: Graph) -> None:
    (ctor_call,) = objects(typedefs)[MAIN].find("withConstructor")
    ctor_args = args_of(ctor_call.args["function"])
    assert set(ctor_args) == {
        "source",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_web_identity_token",
        "aws_role_arn",
        "kubeconfig",
        "status_token",
        "git_token",
        "trust_level",
    }
    secrets = set(ctor_args) - {"source", "aws_role_arn", "trust_level"}
    for name in secrets:
        type_def = ctor_args[name]["typeDef"]
        assert type_def.find("withObject")[0].args["name"] == "Secret", name
    assert ".git" in ctor_args["source"]["ignore"]
    # Optional, and the least trusted level when a CI entry point leaves it out.
    assert ctor_args["trust_level"]["defaultValue"] == json.dumps(DEFAULT_TRUST_LEVEL)
    # `dagger check` needs every argument defaulted: the reference service.
    assert ctor_args["source"]["defaultPath"] == "examples/hello-service"
    assert (REFERENCE_SERVICE / "pipelines.toml").exists()
    assert "pipelines.toml" in ctor_args["source"]["description"]


async def test_build_takes_an_optional_platform(typedefs: Graph) -> None:
    build_args = args_of(functions(objects(typedefs)[MAIN])["build"])
    platform = build_args["platform"]
    assert platform["typeDef"].find("withOptional")[0].args["optional"] is True
    assert platform["typeDef"].find("withScalar")[0].args["name"] == "Platform"


async def test_suite_result_exposes_report_and_exit_code(typedefs: Graph) -> None:
    result = objects(typedefs)["SuiteResult"]
    fields = {call.args["name"]: call.args for call in result.find("withField")}
    assert set(fields) == {"suite", "exit_code", "passed", "report", "summary"}
    for name, args in fields.items():
        assert args["description"], f"field {name} has no description"


async def test_every_function_has_a_description(typedefs: Graph) -> None:
    for name, fn in functions(objects(typedefs)[MAIN]).items():
        (description,) = fn.find("withDescription")
        assert description.args["description"].strip(), name


async def test_inputs_convert_as_the_runtime_converts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run ``build`` through the SDK's own input conversion, as an engine call would."""
    module = as_main(monkeypatch)

    async def reference_config(_source: dagger.Directory, **_options: Any) -> Any:
        return parse_config((REFERENCE_SERVICE / "pipelines.toml").read_text())

    monkeypatch.setattr("ci.context.load_config", reference_config)
    result, _fn = await module.get_structured_result(
        MAIN, {"source": "directory-id"}, "build", {"platform": json.loads('"linux/arm64"')}
    )
    assert isinstance(result, dagger.Container)
    (build,) = render(result).find("dockerBuild")
    assert build.args["platform"] == "linux/arm64"


async def test_verification_functions_register(typedefs: Graph) -> None:
    fns = functions(objects(typedefs)[MAIN])
    assert {"smoke", "integration", "end_to_end", "serve", "scan", "scan_report"} <= set(fns)
    assert "ScanResult" in objects(typedefs)
    smoke_args = args_of(fns["smoke"])
    assert smoke_args["url"]["typeDef"].find("withOptional")[0].args["optional"] is True
    scan_args = args_of(fns["scan"])
    password = scan_args["registry_password"]["typeDef"]
    assert password.find("withObject")[0].args["name"] == "Secret"


def cache_policy(function: Graph) -> str | None:
    calls = function.find("withCachePolicy")
    return str(calls[0].args["policy"]) if calls else None


async def test_functions_with_outside_inputs_are_never_cached(typedefs: Graph) -> None:
    fns = functions(objects(typedefs)[MAIN])
    for name in (
        "smoke",
        "integration",
        "end_to_end",
        "scan",
        "scan_report",
        "test_report",
        "publish",
        "deploy_dev",
        "cleanup_dev",
        "dev",
        "pre_merge",
        "release",
        "promote",
    ):
        assert cache_policy(fns[name]) == "Never", name
    # Pure functions of the source keep the engine's default cache.
    for name in ("lint", "test", "build"):
        assert cache_policy(fns[name]) is None, name


async def test_release_path_functions_register(typedefs: Graph) -> None:
    fns = functions(objects(typedefs)[MAIN])
    assert {
        "publish",
        "deploy_dev",
        "cleanup_dev",
        "verdict",
        "dev",
        "pre_merge",
        "release",
    } <= set(fns)
    run = objects(typedefs)["PipelineRun"]
    assert {call.args["name"] for call in run.find("withField")} == {"passed", "summary", "reports"}
    assert "check" in functions(run)
    release_args = args_of(fns["release"])
    assert {"sha", "version", "run_url", "report_status"} == set(release_args)
    assert release_args["report_status"]["defaultValue"] == "true"


async def test_directory_arguments_never_upload_caches_or_environments(typedefs: Graph) -> None:
    fns = functions(objects(typedefs)[MAIN])
    for name in ("dev", "deploy_dev", "cleanup_dev"):
        manifests = args_of(fns[name])["manifests"]
        assert {".git", "**/.venv", "**/node_modules"} <= set(manifests["ignore"]), name


async def test_every_result_fails_a_call_through_the_same_check(typedefs: Graph) -> None:
    """One idiom: each result object has a `check` function, and it takes no argument."""
    objs = objects(typedefs)
    for name in ("SuiteResult", "ScanResult", "PipelineRun"):
        check = functions(objs[name])["check"]
        assert args_of(check) == {}, name
        (description,) = check.find("withDescription")
        assert "Fail the call" in description.args["description"], name
