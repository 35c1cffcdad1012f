"""Plan tier: the graphs of lint, test and build on the reference service."""

from __future__ import annotations

import logging

import dagger
import pytest
from dagger._exceptions import QueryErrorValue
from gql import GraphQLRequest

from ci.main import PortablePipelines
from ci.suites import run_lint
from ci.toolchain import image, toolchain
from pipelines.config import PipelineConfig, parse_config
from pipelines.errors import ChecksFailed, ConfigError, InputError
from tests.conftest import REFERENCE_SERVICE
from tests.graph import Graph, render
from tests.plan.conftest import fails_with
from tests.plan.seam import Seam

JUNIT_TWO_FAILED = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.unit.test_app" name="test_ok"/>
<testcase classname="tests.unit.test_app" name="test_a"><failure message="x"/></testcase>
<testcase classname="tests.unit.test_app" name="test_b"><error message="y"/></testcase>
</testsuite></testsuites>"""


def pipelines(source: dagger.Directory) -> PortablePipelines:
    return PortablePipelines(source=source)


def execs(graph: Graph) -> list[list[str]]:
    return [call.args["args"] for call in graph.find("withExec")]


def test_toolchain_builds_the_test_stage_and_mounts_caches(
    lazy_source: dagger.Directory, reference_config: PipelineConfig
) -> None:
    graph = render(toolchain(lazy_source, reference_config))
    (build,) = graph.find("dockerBuild")
    assert build.args["target"] == "test"
    mounts = {call.args["path"]: call for call in graph.find("withMountedCache")}
    assert set(mounts) == {c.path for c in reference_config.toolchain.caches}
    for call in mounts.values():
        # Tool caches are shared, so lint and the suites really run at once.
        assert call.args.get("sharing", "SHARED") == "SHARED"  # the SDK omits its default
        assert call.args["cache"].find("cacheVolume")
    # The working tree is mounted where the commands run.
    (tree,) = graph.find("withDirectory")
    assert tree.args["path"] == "/src"
    assert graph.find("withWorkdir")[-1].args["path"] == "/src"


def test_toolchain_image_is_used_as_is_when_configured(lazy_source: dagger.Directory) -> None:
    ref = "golang:1.23@sha256:" + "b" * 64
    config = parse_config(f'[service]\nname = "go"\nport = 80\n[toolchain]\nimage = "{ref}"\n')
    graph = render(toolchain(lazy_source, config))
    assert [call.args["address"] for call in graph.find("from")] == [ref]
    assert not graph.find("dockerBuild")


@pytest.mark.parametrize("platform", [None, "linux/arm64"])
def test_build_uses_the_runtime_stage_and_platform(
    seam: Seam, lazy_source: dagger.Directory, platform: str | None
) -> None:
    import anyio

    ctr = anyio.run(
        lambda: pipelines(lazy_source).build(dagger.Platform(platform) if platform else None)
    )
    graph = render(ctr)
    (build,) = graph.find("dockerBuild")
    assert build.args["target"] == "runtime"
    assert build.args.get("dockerfile", "Dockerfile") == "Dockerfile"  # SDK omits defaults
    assert build.args.get("platform") == platform
    assert not graph.find("withExec")


def test_build_args_are_passed_as_build_args(lazy_source: dagger.Directory) -> None:
    config = parse_config(
        '[service]\nname = "s"\nport = 80\n[build]\nbuild_args = { VERSION = "1.2" }\n'
    )
    (build,) = render(image(lazy_source, config)).find("dockerBuild")
    assert build.args["buildArgs"] == [{"name": "VERSION", "value": "1.2"}]


async def test_lint_runs_every_lint_and_docs_command_as_argv_and_passes(
    seam: Seam, lazy_source: dagger.Directory, reference_config: PipelineConfig
) -> None:
    message = await pipelines(lazy_source).lint()
    ran = [execs(graph)[-1] for graph in seam.graphs("Container.exit_code")]
    assert reference_config.lint is not None
    assert reference_config.docs is not None
    expected = [*reference_config.lint.commands, *reference_config.docs.commands]
    assert sorted(ran) == sorted(list(cmd) for cmd in expected)
    assert ["mkdocs", "build", "--strict"] in ran
    for graph in seam.graphs("Container.exit_code"):
        assert graph.find("withExec")[-1].args["expect"] == "ANY"
        assert graph.find("dockerBuild")[0].args["target"] == "test"
    assert message == "lint: 3 commands passed"


async def test_lint_runs_docs_alone_and_refuses_a_service_with_neither(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    docs_only = parse_config(
        '[service]\nname = "s"\nport = 80\n[docs]\ncommands = [["mkdocs", "build"]]\n'
    )
    assert (await run_lint(lazy_source, docs_only)).summary == "lint: 1 commands passed"
    assert [execs(g)[-1] for g in seam.graphs("Container.exit_code")] == [["mkdocs", "build"]]
    neither = parse_config('[service]\nname = "s"\nport = 80\n')
    # Below the function boundary: the error itself, before any container.
    with pytest.raises(ConfigError, match=r"no \[lint\] or \[docs\] table") as refused:
        await run_lint(lazy_source, neither)
    assert refused.value.key == "lint"
    assert "[docs] with" in str(refused.value)


async def test_lint_reports_every_failing_command(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 1
    seam.answers["Container.combined_output"] = lambda g: f"problem in {execs(g)[-1][1]}"
    with fails_with(ChecksFailed) as caught:
        await pipelines(lazy_source).lint()
    text = str(caught.value)
    assert "3 of 3 commands failed" in text
    assert "`mkdocs build --strict` exited 1" in text
    assert "`ruff check .` exited 1" in text
    assert "`ruff format --check .` exited 1" in text
    assert "problem in format" in text


async def test_lint_fails_on_one_bad_command_only(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 2 if "format" in execs(g)[-1] else 0
    with fails_with(ChecksFailed, match=r"1 of 3 commands failed"):
        await pipelines(lazy_source).lint()


async def test_test_passes_and_reads_the_junit_report(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    passing = JUNIT_TWO_FAILED.replace('<failure message="x"/>', "").replace(
        '<error message="y"/>', ""
    )
    seam.files["/src/reports/unit.xml"] = passing
    summary = await pipelines(lazy_source).test()
    assert summary == "unit: 3 passed, 0 failed, 0 skipped"
    (run,) = seam.graphs("Container.exit_code")
    assert execs(run) == [["pytest", "tests/unit", "--junitxml=reports/unit.xml"]]
    (probe,) = seam.graphs("Container.exists")
    assert probe.calls[-1].args["path"] == "/src/reports/unit.xml"


async def test_failing_tests_fail_the_call_but_the_report_is_returned(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 1
    seam.files["/src/reports/unit.xml"] = JUNIT_TWO_FAILED
    result = await pipelines(lazy_source).test_report("unit")
    assert result.exit_code == 1
    report = render(result.report)
    assert report.calls[-1].name == "file"
    assert report.calls[-1].args["path"] == "/src/reports/unit.xml"
    assert "test_a" in result.summary
    assert "test_b" in result.summary

    with fails_with(ChecksFailed, match=r"unit: 1 passed, 2 failed"):
        await pipelines(lazy_source).test()


async def test_a_suite_that_writes_no_report_gets_a_synthetic_one(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 4
    seam.answers["Container.exists"] = lambda g: False
    seam.answers["Container.combined_output"] = lambda g: "ImportError: no module named app"
    result = await pipelines(lazy_source).test_report("unit")
    assert result.exit_code == 4
    new_file = render(result.report).find("withNewFile")[0]
    assert "exited 4 without writing its report" in new_file.args["contents"]
    assert "ImportError" in new_file.args["contents"]


async def test_multi_command_suite_stops_at_the_first_failure(
    seam: Seam, lazy_source: dagger.Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        '[service]\nname = "s"\nport = 80\n'
        '[test.unit]\ncommands = [["first"], ["second"], ["third"]]\nreport = "r.xml"\n'
    )
    seam.files["pipelines.toml"] = text
    seam.answers["Container.exit_code"] = lambda g: 3 if execs(g)[-1] == ["second"] else 0
    seam.files["/src/r.xml"] = JUNIT_TWO_FAILED
    result = await pipelines(lazy_source).test_report("unit")
    ran = [execs(g)[-1] for g in seam.graphs("Container.exit_code")]
    assert ran == [["first"], ["second"]]
    assert result.exit_code == 3


async def test_unknown_suite_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    with fails_with(InputError, match="unknown suite 'unti'"):
        await pipelines(lazy_source).test_report("unti")
    assert seam.calls == []


async def test_bad_config_fails_before_any_container_work(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["File.contents"] = lambda g: '[service]\nname = "s"\nprot = 80\n'
    with fails_with(ConfigError, match='found "prot": a typo'):
        await pipelines(lazy_source).lint()
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]


async def test_missing_config_file_names_the_fix(seam: Seam, lazy_source: dagger.Directory) -> None:
    seam.answers["Directory.entries"] = lambda g: ["README.md", "src"]
    with fails_with(ConfigError, match=r"no pipelines\.toml") as caught:
        await pipelines(lazy_source).build()
    assert "--source=examples/hello-service" in caught.value.fix


async def test_missing_dockerfile_fails_before_the_build(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Directory.exists"] = lambda g: False
    with fails_with(ConfigError, match="does not exist"):
        await pipelines(lazy_source).build()


async def test_lint_applies_the_commit_msg_rule_before_any_container(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    with fails_with(ChecksFailed, match="carries no ticket id"):
        await pipelines(lazy_source).lint(commit_message="Fix things", branch="main")
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]


@pytest.mark.parametrize(
    ("message", "branch", "pattern"),
    [
        ("ABC-12 Fix things", None, None),
        ("Fix things", "feature/ABC-12-fix", None),
        ('Revert "Fix things"', None, None),
        ("Fix things (OPS-7)", None, "OPS-[0-9]+"),
    ],
)
async def test_lint_accepts_what_the_hook_accepts(
    seam: Seam, lazy_source: dagger.Directory, message: str, branch: str | None, pattern: str | None
) -> None:
    result = await pipelines(lazy_source).lint(
        commit_message=message, branch=branch, ticket_pattern=pattern
    )
    assert result == "lint: 3 commands passed"


def test_a_locked_cache_is_mounted_locked(lazy_source: dagger.Directory) -> None:
    config = parse_config(
        '[service]\nname = "s"\nport = 80\n[toolchain]\ntarget = "test"\n'
        '[[toolchain.caches]]\npath = "/root/.npm"\nkey = "s-npm"\nsharing = "locked"\n'
    )
    (mount,) = render(toolchain(lazy_source, config)).find("withMountedCache")
    assert mount.args["sharing"] == "LOCKED"


async def test_a_deprecated_spelling_works_and_is_shown_with_what_to_write(
    seam: Seam, lazy_source: dagger.Directory, caplog: pytest.LogCaptureFixture
) -> None:
    current = (REFERENCE_SERVICE / "pipelines.toml").read_text()
    assert "\n[forge]\n" in current
    seam.files["pipelines.toml"] = current.replace("\n[forge]\n", "\n[status]\n")
    with caplog.at_level(logging.WARNING, logger="portable_pipelines"):
        built = await pipelines(lazy_source).build()
    assert render(built).find("dockerBuild")
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "status.provider is deprecated" in warning.getMessage()
    assert "[forge]" in warning.getMessage()


# --- suites that crash or write no report -------------------------------------------


def killed(exit_code: int, stderr: str) -> dagger.ExecError:
    """What the engine raises for a command killed by a signal (outside expect=ANY)."""
    error = QueryErrorValue(
        message=f"process exited with code {exit_code}",
        extensions={
            "_type": "EXEC_ERROR",
            "cmd": ["pytest"],
            "exitCode": exit_code,
            "stdout": "",
            "stderr": stderr,
        },
    )
    raised = dagger.QueryError([error], GraphQLRequest("{ x }"))
    assert isinstance(raised, dagger.ExecError)
    return raised


async def test_the_report_directory_exists_before_the_suite_runs(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/unit.xml"] = "<testsuite><testcase name='t'/></testsuite>"
    await pipelines(lazy_source).test()
    (run,) = seam.graphs("Container.exit_code")
    names = run.names()
    made = [c for c in run.find("withDirectory") if c.args["path"] == "/src/reports"]
    assert made, "the report's directory is created"
    assert names.index("withDirectory", names.index("withWorkdir")) < names.index("withExec")


async def test_a_suite_that_exits_0_without_its_report_fails_and_names_the_file(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exists"] = lambda g: False
    result = await pipelines(lazy_source).test_report("unit")
    assert result.exit_code == 0
    assert result.passed is False
    assert "no JUnit report at /src/reports/unit.xml" in result.summary
    assert "reports/unit.xml" in result.summary
    with fails_with(ChecksFailed, match="no JUnit report"):
        result.check()


async def test_a_suite_killed_by_a_signal_fails_with_a_report_saying_so(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    def exit_code(_graph: Graph) -> int:
        raise killed(137, "Killed")

    seam.answers["Container.exit_code"] = exit_code
    result = await pipelines(lazy_source).test_report("unit")
    assert (result.exit_code, result.passed) == (137, False)
    assert "was killed (exit 137)" in result.summary
    assert "Killed" in result.summary
    # The synthetic report, written by the module: the container left none.
    (written,) = render(result.report).find("withNewFile")
    assert "killed" in written.args["contents"] or "137" in written.args["contents"]


async def test_lint_reports_a_killed_linter_with_the_others(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    def exit_code(graph: Graph) -> int:
        if graph.find("withExec")[-1].args["args"][:2] == ["ruff", "check"]:
            raise killed(139, "Segmentation fault")
        return 0

    seam.answers["Container.exit_code"] = exit_code
    with fails_with(ChecksFailed, match=r"1 of 3 commands failed") as caught:
        await pipelines(lazy_source).lint()
    assert "exited 139" in str(caught.value)
    assert "Segmentation fault" in str(caught.value)
