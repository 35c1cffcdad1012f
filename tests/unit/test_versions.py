"""The release version: --version, else VERSION, package.json, pyproject.toml, pom.xml."""

from __future__ import annotations

import re

import pytest

from pipelines.errors import InputError
from pipelines.versions import FILES, release_version
from tests.conftest import ROOT

POM = """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>acme</groupId><artifactId>parent</artifactId><version>9.9.9</version></parent>
  <artifactId>svc</artifactId>
  {own}
</project>
"""


def test_the_documented_order() -> None:
    assert FILES == ("VERSION", "package.json", "pyproject.toml", "pom.xml")


def test_the_argument_wins_over_every_file() -> None:
    declared = release_version("1.0.0", {"VERSION": "2.0.0\n"})
    assert (declared.version, declared.file) == ("1.0.0", None)


@pytest.mark.parametrize(
    ("name", "text", "version"),
    [
        ("VERSION", "1.4.0\n", "1.4.0"),
        ("package.json", '{"name": "svc", "version": "2.0.1"}', "2.0.1"),
        ("pyproject.toml", '[project]\nname = "svc"\nversion = "3.1.0"\n', "3.1.0"),
        ("pyproject.toml", '[tool.poetry]\nname = "svc"\nversion = "0.9.0"\n', "0.9.0"),
        ("pom.xml", POM.format(own="<version>4.2.0</version>"), "4.2.0"),
        (
            "pom.xml",
            POM.replace(' xmlns="http://maven.apache.org/POM/4.0.0"', "").format(
                own="<version>4.2.1</version>"
            ),
            "4.2.1",
        ),
    ],
)
def test_each_declaration(name: str, text: str, version: str) -> None:
    declared = release_version(None, {name: text})
    assert (declared.version, declared.file) == (version, name)


def test_the_first_file_in_the_order_that_declares_one() -> None:
    files = {
        "pom.xml": POM.format(own="<version>4.0.0</version>"),
        "package.json": '{"version": "2.0.0"}',
    }
    assert release_version(None, files).file == "package.json"


def test_a_file_that_declares_none_is_passed_over() -> None:
    files = {
        "pyproject.toml": '[project]\nname = "svc"\ndynamic = ["version"]\n',
        "pom.xml": POM.format(own="<version>5.0.0</version>"),
    }
    assert release_version(None, files).version == "5.0.0"


def test_no_declaration_anywhere_says_why_each_file_did_not_count() -> None:
    files = {
        "VERSION": "1.0\n2.0\n",
        "package.json": "{not json",
        "pyproject.toml": '[project]\nname = "svc"\ndynamic = ["version"]\n',
        "pom.xml": POM.format(own="<version>${revision}</version>"),
    }
    with pytest.raises(InputError) as caught:
        release_version(None, files)
    message = str(caught.value)
    assert caught.value.argument == "version"
    assert "VERSION must hold one version on one line" in message
    assert "package.json is not valid JSON" in message
    assert 'pyproject.toml declares `dynamic = ["version"]`' in message
    assert "pom.xml <version> is '${revision}'" in message
    assert "pass --version=1.4.0" in message


def test_the_parents_version_is_not_the_projects() -> None:
    with pytest.raises(InputError, match="declares no <project><version>"):
        release_version(None, {"pom.xml": POM.format(own="")})


def test_no_file_at_all() -> None:
    with pytest.raises(
        InputError, match=r"none of VERSION, package\.json, pyproject\.toml, pom\.xml"
    ):
        release_version(None, {"VERSION": None})


def test_the_release_page_lists_the_files_in_the_order_read() -> None:
    text = (ROOT / "docs" / "pipelines" / "release.md").read_text()
    rows = re.findall(r"^\| (\d) \| `([^`]+)` \|", text, re.MULTILINE)
    assert rows == [(str(i), name) for i, name in enumerate(FILES, start=1)]
