"""How well the step runner packs the pre-merge pipeline.

Fake steps sleep for a realistic profile of durations (seconds in CI,
scaled down 100 times here). The pre-merge graph runs lint, unit and build
at once, then smoke, integration, e2e and scan after build. A good scheduler
finishes close to the critical path (the longest dependency chain) and far
below the sum of all steps.

    .venv/bin/python benchmarks/pipeline_schedule.py [--scale 100] [--repeat 3]

Targets: wall / critical path <= 1.1, wall / sum of steps <= 0.55. Exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.stepgraph import Pipeline, Step, StepInputs, StepOutput, StepRun, pipeline

# Seconds each step takes in a real CI run of the reference service.
PROFILE: dict[str, float] = {
    "lint": 20,
    "unit": 40,
    "build": 60,
    "smoke": 15,
    "integration": 45,
    "e2e": 60,
    "scan": 30,
}
AFTER_BUILD = ("smoke", "integration", "e2e", "scan")

MAX_CRITICAL_PATH_RATIO = 1.1
MAX_SUM_RATIO = 0.55


def sleeper(seconds: float) -> StepRun[None]:
    async def run(_inputs: StepInputs) -> StepOutput[None]:
        await anyio.sleep(seconds)
        return StepOutput()

    return run


def pre_merge(durations: Mapping[str, float]) -> Pipeline[None]:
    return pipeline(
        "pre-merge",
        [
            Step(
                name=name,
                run=sleeper(seconds),
                depends_on=("build",) if name in AFTER_BUILD else (),
            )
            for name, seconds in durations.items()
        ],
    )


def critical_path(graph: Pipeline[None], durations: Mapping[str, float]) -> float:
    """The longest chain of dependent durations: no scheduler can beat it."""
    finish: dict[str, float] = {}
    steps = {s.name: s for s in graph.steps}
    for name in graph.order:
        ready = max((finish[d] for d in steps[name].depends_on), default=0.0)
        finish[name] = ready + durations[name]
    return max(finish.values())


async def measure(scale: float) -> tuple[float, float, float]:
    durations = {name: seconds / scale for name, seconds in PROFILE.items()}
    graph = pre_merge(durations)
    result = await graph.run()
    if not result.ok:
        raise SystemExit(result.summary())
    return result.wall, critical_path(graph, durations), sum(durations.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=100.0, help="divide the profile by this")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    args = parser.parse_args()

    runs = sorted(anyio.run(measure, args.scale) for _ in range(args.repeat))
    wall, critical, total = runs[len(runs) // 2]
    to_critical, to_sum = wall / critical, wall / total
    print(f"pre-merge, profile / {args.scale:g}, median of {args.repeat} runs")
    print(f"  wall                 {wall:.3f}s")
    print(f"  critical path        {critical:.3f}s  (build 60 + e2e 60, scaled)")
    print(f"  sum of steps         {total:.3f}s")
    print(f"  wall / critical path {to_critical:.3f}  (target <= {MAX_CRITICAL_PATH_RATIO})")
    print(f"  wall / sum of steps  {to_sum:.3f}  (target <= {MAX_SUM_RATIO})")
    met = to_critical <= MAX_CRITICAL_PATH_RATIO and to_sum <= MAX_SUM_RATIO
    print("  targets met" if met else "  TARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
