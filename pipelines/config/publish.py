"""[publish]: where images are pushed (Amazon ECR)."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table


@dataclass(frozen=True, kw_only=True)
class PublishConfig:
    registry: str
    repository: str
    region: str


def parse_publish(table: Table | None) -> PublishConfig | None:
    if table is None:
        return None
    registry = table.string("registry", example='"123456789012.dkr.ecr.eu-west-1.amazonaws.com"')
    repository = table.string("repository", example='"hello-service"')
    region = table.string("region", example='"eu-west-1"')
    table.finish()
    return PublishConfig(registry=registry, repository=repository, region=region)
