"""A starting pipelines.toml for a service, from what its files say it is.

``portable-pipelines init`` reads the service directory's top-level files and
hands them here: the language comes from its build file (``go.mod``,
``pom.xml``, ``package.json``, ``pyproject.toml`` / ``requirements.txt`` /
``setup.py``), the name from the same file (else the directory's name), the
port and the stages from the Dockerfile. The result is a config that
``portable-pipelines validate`` accepts when the Dockerfile has a ``test``
stage and the shipped stage ``EXPOSE``s the port; anything it cannot know
(registry, cluster, forge) is left as commented tables to fill in.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET  # the service's own pom.xml; expat refuses entity bombs
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.dockerfile import parse_dockerfile
from pipelines.errors import InputError

LANGUAGES = ("python", "node", "go", "maven")
# A service's build file says its language; several in one directory are asked about.
MARKERS: dict[str, tuple[str, ...]] = {
    "go": ("go.mod",),
    "maven": ("pom.xml",),
    "node": ("package.json",),
    "python": ("pyproject.toml", "requirements.txt", "setup.py"),
}
DEFAULT_PORTS = {"python": 8080, "node": 3000, "go": 8080, "maven": 8080}

# The suites each language starts with: the test runner's own JUnit output where
# it has one. Go and Maven write none to one file: the exit code decides, and
# the comment says how to add a report.
_SUITES: dict[str, dict[str, tuple[list[str], str | None]]] = {
    "python": {
        "unit": (["pytest", "tests/unit", "--junitxml=reports/unit.xml"], "reports/unit.xml"),
        "smoke": (["pytest", "tests/smoke", "--junitxml=reports/smoke.xml"], "reports/smoke.xml"),
    },
    "node": {
        "unit": (
            [
                "node",
                "--test",
                "--test-reporter=spec",
                "--test-reporter-destination=stdout",
                "--test-reporter=junit",
                "--test-reporter-destination=reports/unit.xml",
                "test/unit/",
            ],
            "reports/unit.xml",
        ),
        "smoke": (
            [
                "node",
                "--test",
                "--test-reporter=spec",
                "--test-reporter-destination=stdout",
                "--test-reporter=junit",
                "--test-reporter-destination=reports/smoke.xml",
                "test/smoke/",
            ],
            "reports/smoke.xml",
        ),
    },
    "go": {
        "unit": (["go", "test", "./..."], None),
        "smoke": (["go", "test", "-count=1", "-tags=smoke", "./smoke/..."], None),
    },
    "maven": {
        "unit": (["mvn", "--batch-mode", "test", "-DexcludedGroups=smoke"], None),
        "smoke": (["mvn", "--batch-mode", "test", "-Dgroups=smoke"], None),
    },
}
_NO_REPORT = {
    "go": "go test writes no JUnit file: to count tests, convert `go test -json` "
    '(e.g. `gotestsum --junitfile reports/unit.xml`) and set `report = "reports/unit.xml"`',
    "maven": "Surefire writes one XML file per class (target/surefire-reports/): to count "
    "tests, merge them into one file and set `report` to it",
}


@dataclass(frozen=True, kw_only=True)
class Starter:
    language: str
    # The file the language and name were read from.
    detected_from: str
    name: str
    port: int
    # Where the port came from: "EXPOSE of stage runtime", or the language's default.
    port_from: str
    build_target: str | None
    toolchain_target: str
    notes: tuple[str, ...] = ()


def detect(
    directory_name: str, files: Mapping[str, str], *, language: str | None = None
) -> Starter:
    """What the service is, from its top-level files (name -> text)."""
    if language is not None and language not in LANGUAGES:
        raise InputError(
            argument="language",
            problem=f"unknown language {language!r}",
            fix="use one of " + ", ".join(LANGUAGES),
        )
    found = [lang for lang, markers in MARKERS.items() if any(m in files for m in markers)]
    if language is None:
        if not found:
            markers = ", ".join(m for group in MARKERS.values() for m in group)
            raise InputError(
                argument="language",
                problem=f"no build file says what the service is (looked for {markers})",
                fix="pass --language=" + "|".join(LANGUAGES),
            )
        if len(found) > 1:
            raise InputError(
                argument="language",
                problem=f"the directory has build files of several languages: {', '.join(found)}",
                fix=f"say which one builds the service: --language={found[0]}",
            )
        language = found[0]
    marker = next((m for m in MARKERS[language] if m in files), MARKERS[language][0])
    notes: list[str] = []
    name = _service_name(_declared_name(language, files.get(marker)) or directory_name)
    dockerfile_text = files.get("Dockerfile")
    if dockerfile_text is None:
        notes.append(
            "no Dockerfile: write one with a `test` stage (the toolchain, dependencies "
            "installed) and a `runtime` stage (the shipped image); validate checks both"
        )
    dockerfile = parse_dockerfile(dockerfile_text or "")
    stages = [stage.name for stage in dockerfile.stages if stage.name]
    build_target = "runtime" if "runtime" in stages else None
    if "test" not in stages and dockerfile_text is not None:
        notes.append(
            "the Dockerfile has no `test` stage: add one (FROM <your base> AS test, with "
            "the test tools installed), or set [toolchain] image to a pinned toolchain image"
        )
    ports = dockerfile.exposed_ports(build_target) if dockerfile.stages else ()
    if ports:
        port, port_from = ports[0], f"EXPOSE of stage {build_target or 'the last stage'}"
    else:
        port, port_from = DEFAULT_PORTS[language], f"the {language} default"
        if dockerfile_text is not None:
            notes.append(f"the shipped stage exposes no port: add `EXPOSE {port}` to it")
    if language in _NO_REPORT:
        notes.append(_NO_REPORT[language])
    return Starter(
        language=language,
        detected_from=marker if marker in files else "--language",
        name=name,
        port=port,
        port_from=port_from,
        build_target=build_target,
        toolchain_target="test",
        notes=tuple(notes),
    )


def render(starter: Starter) -> str:
    """The pipelines.toml text: explicit where it matters, commented where only you know."""
    lines = [
        f"# Pipeline configuration of {starter.name}, written by `portable-pipelines init`",
        f"# ({starter.language}, from {starter.detected_from}).",
        "# Reference: docs/configuration.md. Commands are argument lists, never shell strings.",
        "",
        "[service]",
        f'name = "{starter.name}"',
        f"port = {starter.port}  # {starter.port_from}",
        'health_path = "/healthz"',
        'readiness_path = "/readyz"',
        "",
        "[build]",
        'dockerfile = "Dockerfile"',
    ]
    if starter.build_target is not None:
        lines.append(f'target = "{starter.build_target}"')
    lines += [
        "",
        "# Lint and tests run in this stage, the source put at its WORKDIR, beside the",
        "# dependencies it installed (the source leaves out what .dockerignore lists).",
        "[toolchain]",
        f'target = "{starter.toolchain_target}"',
        "",
        "# [lint]",
        '# commands = [["<your linter>", "."]]',
    ]
    for suite, (command, report) in _SUITES[starter.language].items():
        lines += ["", f"[test.{suite}]", f"commands = [{json.dumps(command)}]"]
        if report is not None:
            lines.append(f'report = "{report}"')
    lines += [
        "",
        "# Where images go, where dev deploys, and the forge that takes commit statuses:",
        "# fill these in for the dev and release pipelines (docs/configuration.md).",
        "# [publish]",
        '# registry = "<account>.dkr.ecr.<region>.amazonaws.com"',
        f'# repository = "{starter.name}"',
        "#",
        "# [deploy]",
        '# target = "eks"',
        "# [deploy.eks]",
        '# region = "eu-west-1"',
        '# cluster = "dev"',
        '# url = "https://{namespace}.dev.example.com"',
        "#",
        "# [forge]",
        '# provider = "github"',
        f'# repository = "<owner>/{starter.name}"',
    ]
    return "\n".join(lines) + "\n"


def _declared_name(language: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        if language == "node":
            value = json.loads(text).get("name")
        elif language == "python":
            value = tomllib.loads(text).get("project", {}).get("name")
        elif language == "go":
            module = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
            value = module[1].rstrip("/").rsplit("/", 1)[-1] if module else None
        else:
            root = ET.fromstring(text)  # noqa: S314 - see the import
            value = root.findtext("{http://maven.apache.org/POM/4.0.0}artifactId") or root.findtext(
                "artifactId"
            )
    # Not the file its name says (RecursionError: TOML or JSON nested too deeply to read).
    except (ValueError, AttributeError, RecursionError, ET.ParseError):
        return None
    return value if isinstance(value, str) else None


def _service_name(declared: str) -> str:
    """A DNS label: ``@acme/Notes_API`` -> ``notes-api``."""
    base = declared.rsplit("/", 1)[-1].lower()
    label = re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:63].strip("-")
    return label or "service"
