"""Cache stability: how many graph nodes differ between two runs of each function.

    python benchmarks/cache_stability.py [--verbose]

A warm re-run of an unchanged commit is only as fast as the engine's cache
lets it be: a value that changes from run to run inside a step that should be
cached turns every re-run into a cold one. This renders, with the plan tier's
machinery (tests/plan/stability.py), the graphs of two runs of every function
and pipeline on the same source (each run with its own stamps and its own
moment), and counts the nodes that differ: deliberately (a rule says why;
docs/architecture.md lists them) or not. It also checks that the module's own
source, whose identity keys every cached function result, leaves out what
changes with every commit (``.git``) and the files only CI reads.

Target: 0 undocumented differing nodes, and none at all in lint, test and build.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.plan.stability import (
    DELIBERATE,
    PURE,
    SCENARIOS,
    Comparison,
    measure,
    module_source_problems,
)


async def measure_all() -> list[Comparison]:
    return [await measure(name, scenario) for name, scenario in SCENARIOS.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every differing node")
    args = parser.parse_args()

    comparisons = asyncio.run(measure_all())
    width = max(len(c.scenario) for c in comparisons)
    print(f"{'function':<{width}}  graphs  nodes  differing  deliberate  undocumented")
    for c in comparisons:
        deliberate = len(c.differences) - len(c.undocumented)
        print(
            f"{c.scenario:<{width}}  {c.graphs:>6}  {c.nodes:>5}  {len(c.differences):>9}"
            f"  {deliberate:>10}  {len(c.undocumented):>12}"
        )
        if args.verbose:
            for d in c.differences:
                print(f"    {d.where}: {d.detail} [{d.rule or 'UNDOCUMENTED'}]")
    rules = Counter(d.rule for c in comparisons for d in c.differences if d.rule)
    undocumented = sum(len(c.undocumented) for c in comparisons)
    impure = [c.scenario for c in comparisons if c.scenario in PURE and c.differences]
    print(f"\nnodes compared:           {sum(c.nodes for c in comparisons)}")
    print(f"deliberately per-run:     {sum(rules.values())}")
    for rule, count in sorted(rules.items()):
        print(f"  {count:>5}  {rule}: {DELIBERATE[rule]}")
    print(f"undocumented differences: {undocumented} (target 0)")
    print(f"pure functions differing: {', '.join(impure) or 'none'} (target none)")
    problems = module_source_problems()
    print(f"module source:            {'; '.join(problems) or 'leaves out .git and CI-only files'}")
    ok = undocumented == 0 and not impure and not problems
    print("result:                   " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
