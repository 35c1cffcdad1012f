"""The deploy checks carry their Argo schemas as package data, each one listed and attributed."""

from __future__ import annotations

from importlib import resources

from pipelines_cli.deploy_checks import ARGO_SCHEMAS
from pipelines_cli.deploy_checks.schemas import SCHEMA_DIR, argo_schema

SHIPPED = resources.files("pipelines_cli.deploy_checks").joinpath(SCHEMA_DIR)


def test_every_schema_the_checks_use_ships_in_the_package_and_nothing_else() -> None:
    names = {entry.name for entry in SHIPPED.iterdir()}

    assert names == {*ARGO_SCHEMAS.values(), "README.md"}


def test_every_schema_loads_and_validates_its_kind() -> None:
    for (api_version, kind), file_name in ARGO_SCHEMAS.items():
        schema = argo_schema(file_name)
        assert schema.get("type") == "object", file_name
        assert {"apiVersion", "kind", "metadata", "spec"} & set(schema.get("properties", {})), (
            f"{file_name} does not look like the schema of {api_version} {kind}"
        )


def test_the_readme_says_where_each_schema_comes_from() -> None:
    readme = SHIPPED.joinpath("README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in readme.splitlines() if line.startswith("| ")}

    assert set(ARGO_SCHEMAS.values()) <= rows
    assert "Apache-2.0" in readme
