"""Benchmark: generating the demo's history (``services.demo.data.generate``), which the demo does at start.

    .venv/bin/python -m bench.demodata [--count 20000] [--runs 5]

Prints the wall-clock and CPU time of each run, the load average, and ``RESULT`` (the best run, against the
2-second target the demo start was designed for). Moved here from the unit suite (issue 15: no timed assertions).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

from services.demo.data import generate

TARGET_S = 2.0
ANCHOR = date(2026, 5, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls: list[float] = []
    for run in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        made = sum(1 for _ in generate(ANCHOR, count=args.count))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if made != args.count:
            raise SystemExit(f"generate() made {made} payments, not {args.count}")
        walls.append(wall)
        print(f"run {run + 1}: {made:,} payments in {wall:.2f} s wall, {cpu:.2f} s CPU")
    one, five, _ = os.getloadavg()
    print(f"load {one:.2f}/{five:.2f} ({os.cpu_count()} CPUs)")
    print(f"RESULT demo_history_s_best={min(walls):.2f} target_s={TARGET_S} count={args.count} "
          f"within_target={min(walls) <= TARGET_S}")


if __name__ == "__main__":
    main()
