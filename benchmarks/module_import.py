"""How much the Dagger module adds to the engine's per-call import.

The engine imports the module's main package on every function call, so its
import cost is paid again and again. This measures, each in a fresh
interpreter, the median time to import ``ci.main`` against ``import dagger``
alone, alternating the two so machine noise hits both alike.

    python benchmarks/module_import.py [--runs 21]

Target: ratio <= 1.15 (heavy libraries such as boto3 and httpx are imported
lazily, inside the functions that need them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.15

_PROBE = (
    "import time, sys\n"
    "t = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - t)\n"
    "heavy = sorted(m for m in ('boto3', 'botocore', 'httpx') if m in sys.modules)\n"
    "print(','.join(heavy))\n"
)


def measure(module: str) -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return float(out[0]), (out[1] if len(out) > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    measure("dagger")  # warm the OS file cache before timing either
    baseline: list[float] = []
    module: list[float] = []
    for _ in range(args.runs):
        seconds, dagger_heavy = measure("dagger")
        baseline.append(seconds)
        seconds, module_heavy = measure("ci.main")
        module.append(seconds)
    # httpx comes with the SDK itself; only what the module adds counts.
    heavy = ",".join(sorted(set(module_heavy.split(",")) - set(dagger_heavy.split(",")) - {""}))

    base_median = statistics.median(baseline)
    module_median = statistics.median(module)
    ratio = module_median / base_median
    print(f"runs per side:            {args.runs}")
    print(f"import dagger (median):   {base_median * 1000:.1f} ms")
    print(f"import ci.main (median):  {module_median * 1000:.1f} ms")
    print(f"ratio:                    {ratio:.3f} (target <= {TARGET})")
    print(f"heavy modules added:      {heavy or 'none'} (of boto3, botocore, httpx)")
    ok = ratio <= TARGET and not heavy
    print("result:                   " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
