"""Dockerfile reading: stages, the WORKDIR and EXPOSE a stage inherits, .dockerignore."""

from __future__ import annotations

import pytest

from pipelines.config import parse_config
from pipelines.dockerfile import (
    dockerfile_path,
    dockerignore_path,
    dockerignore_patterns,
    parse_dockerfile,
    stage_names,
)
from tests.conftest import REFERENCE_SERVICE

# The reference services' pinned frontend line (tests/unit/test_image_pins.py).
SYNTAX = (
    "# syntax=docker/dockerfile:1.25.0@sha256:"
    "0adf442eae370b6087e08edc7c50b552d80ddf261576f4ebd6421006b2461f12\n"
)
NODE = (
    SYNTAX
    + """\
FROM --platform=$BUILDPLATFORM node:20-alpine AS Base
WORKDIR /app

FROM base AS test
COPY package*.json ./
RUN npm ci \\
    --no-audit
WORKDIR src
EXPOSE 9229

from base as runtime
expose 3000/tcp 3001
USER node
"""
)


def test_stages_are_named_lower_case_in_order() -> None:
    assert stage_names(NODE) == ("base", "test", "runtime")
    assert parse_dockerfile(NODE).stage(None) == parse_dockerfile(NODE).stage("runtime")


def test_a_stage_inherits_the_workdir_of_the_stage_it_is_built_on() -> None:
    dockerfile = parse_dockerfile(NODE)
    assert dockerfile.workdir("runtime") == "/app"
    assert dockerfile.workdir("test") == "/app/src", "a relative WORKDIR continues the last"
    assert [s.name for s in dockerfile.lineage("test")] == ["base", "test"]


def test_ports_are_the_stages_own_and_inherited() -> None:
    dockerfile = parse_dockerfile(NODE)
    assert dockerfile.exposed_ports("runtime") == (3000, 3001)
    assert dockerfile.exposed_ports("test") == (9229,)
    assert dockerfile.exposed_ports("base") == ()


@pytest.mark.parametrize(
    "instruction", ["WORKDIR $APP_HOME", "WORKDIR ${APP_HOME}/src", "EXPOSE ${PORT}"]
)
def test_a_value_built_from_a_variable_is_unknown_not_guessed(instruction: str) -> None:
    dockerfile = parse_dockerfile(f"FROM python:3.12\nWORKDIR /srv\n{instruction}\n")
    if instruction.startswith("WORKDIR"):
        assert dockerfile.workdir(None) is None
    else:
        assert dockerfile.exposed_ports(None) is None
        assert dockerfile.workdir(None) == "/srv"


def test_no_workdir_and_an_unknown_stage() -> None:
    dockerfile = parse_dockerfile("FROM golang:1.22 AS build\nRUN go build ./...\n")
    assert dockerfile.workdir("build") is None
    assert dockerfile.stage("nope") is None
    assert dockerfile.lineage("nope") == []
    assert parse_dockerfile("").stage(None) is None


def test_a_stage_built_on_itself_by_name_does_not_loop() -> None:
    dockerfile = parse_dockerfile("FROM app AS app\nWORKDIR /x\n")
    assert dockerfile.workdir("app") == "/x"


def test_the_reference_service_builds_where_its_toolchain_stage_says() -> None:
    dockerfile = parse_dockerfile((REFERENCE_SERVICE / "Dockerfile").read_text())
    config = parse_config((REFERENCE_SERVICE / "pipelines.toml").read_text())
    assert config.service.port in (dockerfile.exposed_ports(config.build.target) or ())


def test_dockerignore_patterns_drop_comments_and_blank_lines_in_order() -> None:
    text = "# local state\n.venv\n\n  .env  \n!keep.env\n**/__pycache__\n"
    assert dockerignore_patterns(text) == (".venv", ".env", "!keep.env", "**/__pycache__")


@pytest.mark.parametrize(("context", "where"), [(".", ""), ("app/", "app/"), ("/", "")])
def test_files_are_found_in_the_build_context(context: str, where: str) -> None:
    config = parse_config(
        f'[service]\nname = "svc"\nport = 8080\n[build]\ncontext = "{context}"\n'
        'dockerfile = "build/Dockerfile"\n'
    )
    assert dockerfile_path(config) == f"{where}build/Dockerfile"
    assert dockerignore_path(config) == f"{where}.dockerignore"
