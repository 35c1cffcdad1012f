"""[deploy]: where the dev pipeline deploys a branch's test image."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table

TARGETS = ("eks", "ec2")


@dataclass(frozen=True, kw_only=True)
class DeployConfig:
    target: str


def parse_deploy(table: Table | None) -> DeployConfig | None:
    if table is None:
        return None
    target = table.string("target", example='"eks"')
    if target not in TARGETS:
        table.fail("target", f"unknown deploy target {target!r}",
                   "use one of " + ", ".join(f'"{t}"' for t in TARGETS))
    table.finish()
    return DeployConfig(target=target)
