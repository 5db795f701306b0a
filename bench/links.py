"""How much time ``create_link`` adds on top of the gateway round trip (intent row + audit, outcome row + audit).

Against a local sandbox (uvicorn in a thread) and a fresh SQLite file: each call is timed as a whole and its
``POST charge`` alone (through a thin timing wrapper around the real client); our overhead is the difference.

    .venv/bin/python -m bench.links [--n 200]

Last line: ``RESULT link_overhead_p50_ms=<ms> link_overhead_p95_ms=<ms> n=<n>``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.server import serve_in_thread
from services.db import create_schema, make_engine, sqlite_url
from services.gateway import ChargeResult, UPaymentsClient
from services.gateway.charges import ChargesResource
from services.links import LinkRequest, create_link, new_idempotency_key
from services.models import Staff
from services.permissions import Actor, Role


@dataclass
class BenchSettings:
    public_url: str = "https://shop.example/"
    link_expiry_minutes: int = 1440
    gateway_timeout_seconds: float = 10.0


class _TimedCharges(ChargesResource):
    """``client.charges`` that remembers how long the last ``create`` took."""

    last = 0.0

    def create(self, **kwargs: Any) -> ChargeResult:
        start = time.perf_counter()
        try:
            return super().create(**kwargs)
        finally:
            self.last = time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(n: int, warmup: int = 10) -> tuple[list[float], list[float]]:
    """Create ``warmup + n`` links; return (overheads, charge times) in milliseconds for the last ``n``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = make_engine(sqlite_url(folder / "bench.db"))
        create_schema(engine)
        from services.db import session_scope

        with session_scope(engine) as session:
            session.add(Staff(email="sara@shop.test", role=Role.SALES, name="Sara"))
        actor = Actor("sara@shop.test", Role.SALES, "Sara")
        overheads: list[float] = []
        charges: list[float] = []
        with serve_in_thread(SandboxConfig(db_path=folder / "sandbox.db")) as sandbox, \
                UPaymentsClient(sandbox.api_base, "jtest123", timeout=10.0) as client:
            timed = client.charges = _TimedCharges(client)
            for i in range(warmup + n):
                request = LinkRequest(idempotency_key=new_idempotency_key(), amount="12.500",
                                      description="Blue abaya", customer_name="Huda",
                                      customer_phone=f"55{i % 100:02d} {3456 + i % 1000:04d}")
                start = time.perf_counter()
                outcome = create_link(engine, client, actor, request=request, settings_like=BenchSettings())
                total = time.perf_counter() - start
                if outcome.state != "active":
                    raise RuntimeError(f"link {i} was not created: {outcome.message}")
                if i >= warmup:
                    overheads.append((total - timed.last) * 1000)
                    charges.append(timed.last * 1000)
        engine.dispose()
    return overheads, charges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    overheads, charges = run(args.n)
    p50, p95 = statistics.median(overheads), _percentile(overheads, 0.95)
    print(f"create_link, n={args.n} against a local sandbox and SQLite (WAL)")
    print(f"  gateway round trip (POST charge): p50 {statistics.median(charges):.1f} ms, "
          f"p95 {_percentile(charges, 0.95):.1f} ms")
    print(f"  our overhead (validation, intent + audit, outcome + audit): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(overheads):.1f} ms (target < 50 ms)")
    print(f"RESULT link_overhead_p50_ms={p50:.1f} link_overhead_p95_ms={p95:.1f} n={args.n}")


if __name__ == "__main__":
    main()
