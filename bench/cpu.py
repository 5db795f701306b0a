"""Who used the cores: CPU seconds of process trees, from /proc (Linux only).

A process's CPU is ``utime + stime`` of its own threads plus ``cutime + cstime``, the time of children that have
exited and been waited for. Summed over the live processes of a tree, that counts every process once: a live
child is never in its parent's ``cutime``, and a Chromium renderer that exits when its context closes is reaped
by the zygote (in the tree), which then carries its time.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    cpu_s: float  # own threads plus waited-for children
    own_s: float = 0.0  # own threads only


def _read(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return Proc(pid, int(fields[1]), comm, (utime + stime + cutime + cstime) / TICK, (utime + stime) / TICK)


def own_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid``'s own threads (user plus system)."""
    proc = _read(pid)
    if proc is None:
        raise ProcessLookupError(pid)
    return proc.own_s


def processes() -> dict[int, Proc]:
    found = (_read(int(p)) for p in os.listdir("/proc") if p.isdigit())
    return {p.pid: p for p in found if p is not None}


def descendants(root: int, table: dict[int, Proc]) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo.extend(children.get(pid, []))
    return tree


def tree_cpu(pids: Iterable[int], table: dict[int, Proc]) -> float:
    return sum(table[p].cpu_s for p in pids if p in table)


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (every process, other people's included)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


def split(app_pid: int, me: int | None = None) -> dict[str, float]:
    """CPU seconds so far: ``app`` (the server's tree), ``browser`` (every Chromium process below this one),
    ``driver`` (Playwright's node driver), ``bench`` (this process's threads, the asyncio client, and the other
    processes below it: the OpenID provider),
    and ``machine`` (all cores, everyone's)."""
    me = me or os.getpid()
    table = processes()
    app = descendants(app_pid, table)
    mine = descendants(me, table) - app - {me}
    browser = {p for p in mine if "chrom" in table[p].comm.lower()}
    # Chromium's own processes start under the driver; their time counts as the browser's, not the driver's.
    # Take the snapshot before the browser is closed: once the driver has reaped Chromium, its time moves into the
    # driver's cutime.
    driver = {p for p in mine - browser if table[p].comm.startswith("node")}  # "node-MainThread"
    rest = mine - browser - driver  # the OpenID provider's process
    own = resource.getrusage(resource.RUSAGE_SELF)  # this process's threads only, not its reaped children
    return {"app": tree_cpu(app, table), "browser": tree_cpu(browser, table), "driver": tree_cpu(driver, table),
            "bench": own.ru_utime + own.ru_stime + tree_cpu(rest, table), "machine": machine_busy_s()}


def browser_pids(app_pid: int, me: int | None = None) -> set[int]:
    """The Chromium processes below this one (the app's tree excluded)."""
    table = processes()
    mine = descendants(me or os.getpid(), table) - descendants(app_pid, table)
    return {p for p in mine if "chrom" in table[p].comm.lower()}


def tree_rss_mb(pids: Iterable[int]) -> float:
    """Resident memory of these processes, summed (shared pages counted in each: an upper bound)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def chromium_kind(pid: int) -> str:
    """``browser``, ``renderer``, ``gpu-process``, ``zygote``, ``utility`` … from Chromium's ``--type=`` flag."""
    try:
        # Chromium rewrites its process title: the arguments may be joined by spaces instead of NULs
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return "gone"
    kind = next((a[len(b"--type="):].decode() for a in args if a.startswith(b"--type=")), "browser")
    return kind


def browser_by_kind(app_pid: int, seen: dict[int, tuple[str, float]]) -> None:
    """Note each live Chromium process's kind and own CPU seconds into ``seen`` (call it every second or so: a
    renderer's time is only its own while it lives; Chromium's subreaper takes it over when it exits)."""
    table = processes()
    for pid in browser_pids(app_pid):
        if pid in table:
            seen[pid] = (seen[pid][0] if pid in seen else chromium_kind(pid), table[pid].own_s)


def by_kind(seen: dict[int, tuple[str, float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for kind, used in seen.values():
        totals[kind] = totals.get(kind, 0.0) + used
    return totals
