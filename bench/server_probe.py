"""``python -m bench.server_probe run streamlit_app.py …``: ``streamlit`` with two signals for bench/session_memory.

- ``SIGUSR1``: write what the process holds to ``$SOUQ_BENCH_PROBE_OUT`` (JSON): live Streamlit sessions (active
  and kept for reconnect), counts of a few object types, and — when started with ``PYTHONTRACEMALLOC`` — the
  Python allocations by traceback, so two reports can be diffed to name what a session keeps.
- ``SIGUSR2``: ``gc.collect()`` then glibc's ``malloc_trim(0)``: memory freed but not yet returned to the OS goes
  back; what remains is held.

Bench only: the app never runs under this wrapper in production.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

_TYPES = ("AppSession", "SessionState", "ScriptRunner", "ForwardMsg", "DataFrame", "Figure", "Report", "SearchPage",
          "Connection", "Thread", "Session")


def _sessions() -> dict[str, int]:
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return {}
    manager: Any = Runtime.instance()._session_mgr  # a bench probe looks inside
    return {"active": len(manager.list_active_sessions()), "all": len(manager.list_sessions())}


def report(_signum: int = 0, _frame: FrameType | None = None) -> None:
    gc.collect()
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    out: dict[str, Any] = {"sessions": _sessions(), "types": {t: counts.get(t, 0) for t in _TYPES},
                           "arenas": _arenas()}
    holders = [t for t in os.environ.get("SOUQ_BENCH_PROBE_HOLDERS", "").split(",") if t]
    if holders:
        out["holders"] = {t: _holder_chains(t) for t in holders}
    target = os.environ["SOUQ_BENCH_PROBE_OUT"]
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        out["traced_mb"] = tracemalloc.get_traced_memory()[0] / 1e6
        snapshot.dump(f"{target}.snapshot")
    with open(target, "w") as f:
        json.dump(out, f)


def _describe(obj: Any, child: Any) -> str:
    """What ``obj`` is and how it refers to ``child`` (a dict's key, an object's attribute)."""
    name = type(obj).__name__
    if isinstance(obj, dict):
        for key, value in obj.items():
            if value is child:
                return f"dict[{str(key)[:60]!r}]"
        return f"dict(len {len(obj)})"
    if isinstance(obj, FrameType):
        return f"frame {obj.f_code.co_filename.rsplit('/', 2)[-1]}:{obj.f_code.co_name}:{obj.f_lineno}"
    if type(obj).__name__ == "function":
        return f"function {obj.__qualname__} ({obj.__code__.co_filename.rsplit('/', 2)[-1]})"
    if type(obj).__name__ == "cell":
        return "closure cell"
    return name


def _holder_chains(type_name: str, limit: int = 3, depth: int = 12) -> list[list[str]]:
    """For up to ``limit`` live objects of ``type_name``: one chain of referrers up to a module, a class or a
    thread's frame (what keeps it alive), found breadth first."""
    import types

    targets = [o for o in gc.get_objects() if type(o).__name__ == type_name][:limit]
    modules = {id(m.__dict__) for m in list(sys.modules.values()) if hasattr(m, "__dict__")}  # a page run's
    # globals (named __main__ too) are not a root: what keeps them alive is the question
    chains = []
    for target in targets:
        ignore = {id(targets), id(sys._getframe())}
        seen = {id(target)}
        queue: list[tuple[Any, list[str]]] = [(target, [type_name])]
        found: list[str] = []
        budget = 300  # gc.get_referrers walks every object: bound the search
        while queue and not found and budget:
            budget -= 1
            obj, path = queue.pop(0)
            if len(path) > depth:
                break
            for ref in gc.get_referrers(obj):
                if id(ref) in seen or id(ref) in ignore or ref is queue or ref is path:
                    continue
                seen.add(id(ref))
                step = [*path, _describe(ref, obj)]
                if isinstance(ref, (types.ModuleType, type)) or id(ref) in modules:
                    label = getattr(ref, "__name__", None) or ref.get("__name__")
                    found = [*step, f"<{label}>"]
                    break
                queue.append((ref, step))
        chains.append(found or ["(no chain to a module found)"])
    return chains


def _arenas() -> dict[str, int]:
    """glibc's own view: bytes in use by malloc and bytes it holds (``mallinfo2``)."""

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Mallinfo2
    info = libc.mallinfo2()
    return {"in_use": info.uordblks + info.hblkhd, "free_held": info.fordblks, "mmapped": info.hblkhd,
            "sqlite": _sqlite_memory()}


def _sqlite_memory() -> int:
    """Bytes SQLite has allocated now (page caches, statements), process wide: ``sqlite3_memory_used``."""
    import sqlite3  # noqa: F401 - loads the library the app's connections use

    for line in Path("/proc/self/maps").read_text().splitlines():
        if "libsqlite3" in line:
            lib = ctypes.CDLL(line.split()[-1])
            lib.sqlite3_memory_used.restype = ctypes.c_int64
            return int(lib.sqlite3_memory_used())
    return -1


def trim(_signum: int = 0, _frame: FrameType | None = None) -> None:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def main() -> None:
    signal.signal(signal.SIGUSR1, report)
    signal.signal(signal.SIGUSR2, trim)
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
