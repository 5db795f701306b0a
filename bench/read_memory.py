"""Benchmark: memory of the read connections against their page cache and memory map, with concurrent readers.

    .venv/bin/python -m bench.read_memory --db data/bench/souq-1000000.db [--threads 6]
    .venv/bin/python -m bench.read_memory --db … --cache-kib 65536 --mmap 268435456   # the settings before issue 15

``--threads`` readers at once (as many browser sessions reading together) each run the analytics report for 365,
90 and 30 days, three deep pages of a search and a broad free-text search, through the app's read engine
(``services.db.read_engine``). Then the CPU time of ``report()`` for 90 and 365 days (the minimum of 5 runs, this
thread only: fair on a busy machine). Printed: the process's resident memory, anonymous and file-backed (the
mapped database), and ``RESULT``. ``--cache-kib``/``--mmap`` override :data:`services.db.READ_CACHE_KIB` and
:data:`services.db.READ_MMAP_BYTES` for the run; ``--soft-heap-limit`` sets SQLite's process-wide soft limit.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import services.db as db


def memory() -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a seeded SQLite file (bench/pages.py makes one)")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--cache-kib", type=int, default=db.READ_CACHE_KIB)
    parser.add_argument("--mmap", type=int, default=db.READ_MMAP_BYTES)
    parser.add_argument("--soft-heap-limit", type=int, default=0, help="bytes; 0: none")
    args = parser.parse_args()
    db.READ_CACHE_KIB, db.READ_MMAP_BYTES = args.cache_kib, args.mmap
    db.READ_POOL_SIZE, db.READ_MAX_OVERFLOW = max(db.READ_POOL_SIZE, args.threads), 0  # every reader its own
    if args.soft_heap_limit:
        sqlite3.connect(":memory:").execute(f"PRAGMA soft_heap_limit={args.soft_heap_limit}")

    from bench.seed import enrol
    from services.analytics import AnalyticsFilter, Period, report
    from services.permissions import Actor, Role
    from services.search import SearchFilter, search
    from services.timeutil import kuwait_today

    engine = db.make_engine(db.sqlite_url(args.db))
    actor = enrol(engine, Actor("bench@shop.test", Role.ADMIN))
    today = kuwait_today()
    print(f"{args.db}: cache {args.cache_kib} KiB, mmap {args.mmap} bytes, soft heap limit {args.soft_heap_limit}, "
          f"{args.threads} readers; at start {memory()}", flush=True)

    def reader(i: int) -> None:
        for days in (365, 90, 30):
            report(engine, actor, Period(today - timedelta(days=days - 1 + i), today), filters=AnalyticsFilter())
        for page in (1, 500, 2000):
            search(engine, actor, SearchFilter(statuses={"paid"}), page=page,
                   sort=("created_at", "amount", "status")[i % 3])
        search(engine, actor, SearchFilter(text="noura"))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = memory()
    cpu: dict[int, float] = {}
    for days in (90, 365):
        period, runs = Period(today - timedelta(days=days - 1), today), []
        for _ in range(6):
            started = time.thread_time()
            report(engine, actor, period)
            runs.append((time.thread_time() - started) * 1000)
        cpu[days] = min(runs[1:])
    one, five, _ = os.getloadavg()
    print(f"after the readers: {after}; report() CPU 90 d {cpu[90]:.0f} ms, 365 d {cpu[365]:.0f} ms; "
          f"load {one:.2f}/{five:.2f}")
    print(f"RESULT rss_mb={after['VmRSS']} anon_mb={after['RssAnon']} file_mb={after['RssFile']} "
          f"peak_mb={after['VmHWM']} report_90d_cpu_ms={cpu[90]:.0f} report_365d_cpu_ms={cpu[365]:.0f} "
          f"cache_kib={args.cache_kib} mmap={args.mmap} threads={args.threads}")


if __name__ == "__main__":
    main()
