"""How much the Dagger module adds to the engine's per-call import.

The engine imports the module's main package on every function call, so its
import cost is paid again and again. This measures, each in a fresh
interpreter, the median time to import ``ci.main`` against ``import dagger``
alone, alternating the two so machine noise hits both alike.

    python benchmarks/module_import.py [--runs 21]

Target: ratio <= 1.05. ``ci.main`` imports only what its function signatures
name; each function imports the builders and core modules it uses when it
runs, and heavy libraries such as boto3 and httpx are imported inside the
functions that talk to AWS or a forge. The ten most expensive modules the
import adds to ``import dagger`` are listed (``python -X importtime``), so a
regression names its cause.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.05
TOP = 10

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


def import_times(module: str) -> dict[str, int]:
    """Microseconds each module took to import itself, from ``python -X importtime``."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    times = {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        times[name.strip()] = int(own)
    return times


def added_imports(runs: int) -> list[tuple[str, float]]:
    """The modules ``import ci.main`` adds to ``import dagger``, by median own time."""
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        base = import_times("dagger")
        for name, own in import_times("ci.main").items():
            if name not in base:
                samples.setdefault(name, []).append(own)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return sorted(medians.items(), key=lambda item: item[1], reverse=True)


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
    added = added_imports(max(3, args.runs // 4))
    print(f"modules added:            {len(added)}; the {TOP} most expensive (own time):")
    for name, micros in added[:TOP]:
        print(f"  {micros / 1000:8.2f} ms  {name}")
    ok = ratio <= TARGET and not heavy
    print("result:                   " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
