"""A pipeline's plan as text (for people), JSON (for tools) or Mermaid (for docs).

The JSON form is :meth:`pipelines.plans.PipelinePlan.to_json`, documented as
stable in docs/cli.md; the text and Mermaid forms may change between versions.
"""

from __future__ import annotations

import json
import shlex

from pipelines.plans import PipelinePlan, PlannedStep

FORMATS = ("text", "json", "mermaid")


def render(plan: PipelinePlan, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(plan.to_json(), indent=2) + "\n"
    if output_format == "mermaid":
        return to_mermaid(plan)
    if output_format == "text":
        return to_text(plan)
    raise ValueError(f"unknown format {output_format!r}; known: {', '.join(FORMATS)}")


def to_text(plan: PipelinePlan) -> str:
    lines = [f"pipeline {plan.pipeline} of {plan.service}: {len(plan.steps)} steps"]
    if plan.status_context is not None:
        lines.append(
            f"  status {plan.status_context} on {plan.forge}: pending at the start, "
            "success or failure at the end"
        )
    else:
        lines.append("  no commit status (no [forge] in pipelines.toml)")
    for number, step in enumerate(plan.steps, start=1):
        lines += ["", *_step_lines(number, step)]
    return "\n".join(lines) + "\n"


def _step_lines(number: int, step: PlannedStep) -> list[str]:
    after = ", ".join(step.depends_on) if step.depends_on else "nothing (starts at once)"
    lines = [
        f"{number}. {step.name} ({step.kind})",
        f"   after: {after}",
        f"   runs in: {step.runs_in}",
    ]
    if step.services:
        lines.append(f"   services: {', '.join(step.services)}")
    if step.env:
        lines.append(f"   env: {', '.join(step.env)}")
    if step.platforms:
        lines.append(f"   platforms: {', '.join(step.platforms)}")
    lines += [f"   pushes: {push}" for push in step.pushes]
    if step.url:
        lines.append(f"   url: {step.url}")
    if step.note:
        lines.append(f"   note: {step.note}")
    lines += [f"   $ {shlex.join(command)}" for command in step.commands]
    return lines


def to_mermaid(plan: PipelinePlan) -> str:
    lines = ["flowchart LR"]
    for step in plan.steps:
        label = step.name if step.kind == "validation" else f"{step.name} (effect)"
        lines.append(f'    {_node(step.name)}["{label}"]')
    for step in plan.steps:
        lines += [f"    {_node(before)} --> {_node(step.name)}" for before in step.depends_on]
    if plan.status_context is not None:
        lines.append(f'    status(["status {plan.status_context}"])')
        depended_on = {name for s in plan.steps for name in s.depends_on}
        ends = [s.name for s in plan.steps if s.name not in depended_on]
        lines += [f"    {_node(name)} --> status" for name in ends]
    return "\n".join(lines) + "\n"


def _node(name: str) -> str:
    """A Mermaid node id: step names are words and dashes (pre-merge's steps, e2e)."""
    return "step_" + name.replace("-", "_")
