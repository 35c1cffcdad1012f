"""The portable-pipelines console script, run as a user runs it: validate, plan, init.

Each reference service is validated and planned in all three formats; init
followed by validate passes on a fresh Python, Node, Go and Maven sample;
bad input exits 1 with every problem named, and never a traceback.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TOOL = Path(sys.executable).with_name("portable-pipelines")
SERVICES = sorted(path.parent for path in (ROOT / "examples").glob("*/pipelines.toml"))
DOCKERFILE = """\
FROM {base} AS test
WORKDIR /app
COPY . .

FROM {base} AS runtime
WORKDIR /app
COPY . .
EXPOSE {port}
"""
PINNED = "docker.io/library/{image}@sha256:" + "a" * 64
SAMPLES = {
    "python": ("pyproject.toml", '[project]\nname = "Billing_API"\nversion = "1.2.0"\n', 8080),
    "node": ("package.json", '{"name": "@acme/notes", "version": "0.3.0"}', 3000),
    "go": ("go.mod", "module github.com/acme/ledger\n\ngo 1.22\n", 8080),
    "maven": (
        "pom.xml",
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><artifactId>orders</artifactId>'
        "<version>2.0.0</version></project>",
        8080,
    ),
}
NAMES = {"python": "billing-api", "node": "notes", "go": "ledger", "maven": "orders"}


def tool(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOL), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )


def manifests(service: Path) -> Path:
    """Where the service's dev overlay paths start: the service, or the repository root."""
    return service if (service / "deploy").is_dir() else ROOT


def test_the_console_script_is_installed() -> None:
    assert TOOL.is_file(), f"{TOOL} missing: pyproject's [project.scripts] was not installed"
    version = tool("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("portable-pipelines ")


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_every_reference_service_validates(service: Path) -> None:
    result = tool("validate", service, "--manifests", manifests(service))
    assert result.returncode == 0, result.stderr
    assert "no problems for" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
@pytest.mark.parametrize("pipeline", ["dev", "pre-merge", "release"])
def test_every_reference_service_plans_in_every_format(service: Path, pipeline: str) -> None:
    base = ("plan", service, "--pipeline", pipeline, "--manifests", manifests(service))
    text = tool(*base)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"pipeline {pipeline} of ")
    document = json.loads(tool(*base, "--format", "json").stdout)
    names = [step["name"] for step in document["steps"]]
    assert all(f". {name} (" in text.stdout for name in names)
    for step in document["steps"]:
        assert set(step["depends_on"]) <= set(names[: names.index(step["name"])])
    mermaid = tool(*base, "--format", "mermaid").stdout.splitlines()
    assert mermaid[0] == "flowchart LR"
    edges = sum(len(step["depends_on"]) for step in document["steps"])
    assert sum(" --> step_" in line for line in mermaid) == edges


def test_validate_lists_every_problem_at_once_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x AS runtime\nEXPOSE 3000\n")
    (tmp_path / "pipelines.toml").write_text(
        '[service]\nname = "svc"\nport = 8080\n[build]\ntarget = "runtime"\n'
        '[test.unit]\ncommands = [["t"]]\nreport = "../unit.xml"\n'
    )
    result = tool("validate", tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("3 problems to fix before anything runs:\n")
    for key in ("toolchain.target", "service.port", "test.unit.report"):
        assert f"pipelines.toml: {key}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_names_a_broken_config_and_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "pipelines.toml").write_text('[service]\nname = "Svc"\nport = "80"\n')
    broken = tool("validate", tmp_path)
    assert broken.returncode == 1
    assert "service.name" in broken.stderr
    assert "service.port" in broken.stderr
    missing = tool("validate", tmp_path / "nowhere")
    assert missing.returncode == 1
    assert "nowhere/pipelines.toml: not found" in missing.stderr


def test_validate_checks_a_pipeline_the_config_does_not_set_up_when_asked() -> None:
    service = ROOT / "examples" / "hello-service"
    result = tool("validate", service, "--pipeline", "dev")
    assert result.returncode == 1, "without --manifests the overlay is not where dev looks"
    assert "deploy.eks.overlay" in result.stderr


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_init_then_validate_on_a_fresh_sample(tmp_path: Path, language: str) -> None:
    marker, text, port = SAMPLES[language]
    service = tmp_path / f"{language}-sample"
    service.mkdir()
    (service / marker).write_text(text)
    image = PINNED.format(image={"maven": "maven", "go": "golang"}.get(language, language))
    (service / "Dockerfile").write_text(DOCKERFILE.format(base=image, port=port))
    init = tool("init", service)
    assert init.returncode == 0, init.stderr
    assert f"a {language} service (from {marker})" in init.stdout
    written = (service / "pipelines.toml").read_text()
    assert f'name = "{NAMES[language]}"' in written
    assert f"port = {port}" in written
    validate = tool("validate", service)
    assert validate.returncode == 0, validate.stderr
    plan = json.loads(tool("plan", service, "--pipeline", "pre-merge", "--format", "json").stdout)
    assert [s["name"] for s in plan["steps"]] == ["unit", "build", "smoke", "scan"]


def test_init_never_overwrites_and_asks_when_the_files_do_not_say(tmp_path: Path) -> None:
    (tmp_path / "pipelines.toml").write_text("# mine\n")
    refused = tool("init", tmp_path)
    assert refused.returncode == 1
    assert "init never overwrites" in refused.stderr
    assert (tmp_path / "pipelines.toml").read_text() == "# mine\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    unknown = tool("init", empty)
    assert unknown.returncode == 1
    assert "--language=" in unknown.stderr
    assert not (empty / "pipelines.toml").exists()
    both = tmp_path / "both"
    both.mkdir()
    (both / "package.json").write_text("{}")
    (both / "go.mod").write_text("module x\n")
    ambiguous = tool("init", both)
    assert ambiguous.returncode == 1
    assert "several languages: go, node" in ambiguous.stderr
    chosen = tool("init", both, "--language", "node")
    assert chosen.returncode == 0, chosen.stderr
    assert "next: no Dockerfile" in chosen.stdout


def test_a_usage_error_exits_2() -> None:
    result = tool("plan", ROOT / "examples" / "hello-service", "--pipeline", "nightly")
    assert result.returncode == 2
    assert "invalid choice: 'nightly'" in result.stderr


def console_blocks(page: Path) -> list[tuple[str, str]]:
    """(command, output) of each ```console block: `$ command`, then what it prints."""
    blocks = re.findall(r"```console\n\$ (.+?)\n(.*?)```\n", page.read_text(), re.DOTALL)
    return [(command, output) for command, output in blocks]


CLI_PAGE = ROOT / "docs" / "cli.md"


@pytest.mark.parametrize(
    ("command", "output"), console_blocks(CLI_PAGE), ids=lambda v: v.split("\n")[0][:60]
)
def test_the_page_shows_what_the_tool_prints(command: str, output: str) -> None:
    program, *args = shlex.split(command)
    assert program == "portable-pipelines"
    result = tool(*args)
    assert result.stdout + result.stderr == output


def test_the_page_documents_every_key_of_the_json_form() -> None:
    text = CLI_PAGE.read_text()
    section = text.split("### The JSON form (stable)", 1)[1].split("\n## ", 1)[0]
    top, step = (
        re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE) for table in section.split("Each step:")
    )
    document = json.loads(
        tool(
            "plan",
            ROOT / "examples" / "hello-service",
            "--pipeline",
            "pre-merge",
            "--format",
            "json",
        ).stdout
    )
    assert top == list(document)
    assert step == list(document["steps"][0])
