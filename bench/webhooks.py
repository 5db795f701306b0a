"""Benchmark webhook ingest on loopback: many gateway notifications fired at ``POST /webhooks/upayments``.

    .venv/bin/python -m bench.webhooks [--payments 2000] [--duplicates 60] [--concurrency 16]

Starts the sandbox and the dashboard's routes (uvicorn) as two child processes, creates the payments in the
sandbox and the cache, pays them, then fires their webhooks from a pool of httpx clients (bounded concurrency,
a few duplicates mixed in). Every delivery is verified by a status look-up to the sandbox before the cache
changes; nothing is trusted from the body.

Two figures: ingest (first POST to last 200, what the gateway sees) and end to end (first POST until every
delivery was verified and every payment is paid in the cache). The dashboard answers 200 once the body is
stored; its verifier takes the stored events in batches as soon as deliveries pause (at most 10 s later), asks
the gateway, and writes each batch in one transaction. For the benchmark the dashboard's status limiter is
raised as far as the sandbox's: the real gateway allows 30–800 look-ups a minute, which then bounds
verification (never ingest). The last line is ``RESULT webhooks_per_s=… lost=… duplicates_collapsed=…`` with
the ingest rate.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from services.db import create_schema, make_engine, sqlite_url
from services.gateway import UPaymentsClient, parse_redirect
from services.models import Payment, PaymentEvent, WebhookEvent
from services.timeutil import local_day, utcnow

ROOT = Path(__file__).resolve().parent.parent
BENCH_RATE = 1_000_000  # look-ups a minute allowed by the sandbox and by the dashboard's limiter in this run
CLOSED_URL = "http://127.0.0.1:9/webhooks/upayments"


def _serve_dashboard(port: int) -> None:
    """Child process: the dashboard's routes (webhook, health, landing pages) under uvicorn."""
    import uvicorn
    from starlette.applications import Starlette

    from dashboard import routes, runtime
    from services.gateway import factory

    settings = runtime.settings()
    factory.register_client(UPaymentsClient(settings.gateway_url, settings.gateway_token, timeout=10,
                                         status_rate_per_minute=BENCH_RATE))
    runtime.engine()  # schema before the first request
    app = Starlette(routes=routes.routes())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
                access_log=False, backlog=4096)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dashboard exited early with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"dashboard not healthy at {url}")


def _prepare(client: UPaymentsClient, sandbox_url: str, engine: Engine, n: int) -> list[bytes]:
    """Create and pay ``n`` hosted-page charges; cache rows as the links service writes them; their webhook bodies."""
    stamp = int(time.time())
    rows, bodies = [], []
    admin = httpx.Client(base_url=f"{sandbox_url}/__sandbox/", timeout=30)
    for i in range(n):
        order_id = f"WB-{stamp}-{i:05d}"
        amount = 1_000 + (i * 37) % 90_000
        created = client.charges.create(order_id=order_id, amount_fils=amount, description=f"Bench {i}",
                                        return_url="http://127.0.0.1:9/pay/return",
                                        cancel_url="http://127.0.0.1:9/pay/cancel", notification_url=CLOSED_URL)
        done = admin.post("complete", json={"session_id": created.session_id, "method": "knet",
                                            "outcome": "captured", "wait_webhook": False}).json()
        bodies.append(urlencode(parse_redirect(done["redirect_url"]).raw).encode())
        now = utcnow()
        rows.append({"order_id": order_id, "amount_fils": amount, "currency": "KWD", "status": "pending",
                     "session_id": created.session_id, "link_url": created.link, "link_state": "active",
                     "source": "link", "language": "en", "created_at": now, "updated_at": now,
                     "local_day": local_day(now), "refunded_fils": 0, "webhook_received": False})
    admin.close()
    with engine.begin() as conn:
        conn.execute(insert(Payment), rows)
    return bodies


def _fire(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[int]]:
    """POST every body from ``concurrency`` threads, each with its own keep-alive httpx client; (seconds, codes).

    (httpx's AsyncClient tops out below 100 requests/s on this machine even against an empty handler, so it
    would measure itself; sync clients in threads reach several hundred.)
    """
    local = threading.local()
    clients: list[httpx.Client] = []
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def one(body: bytes) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=60)
            clients.append(client)
        return client.post(url, content=body, headers=headers).status_code

    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        codes = list(pool.map(one, bodies))
        elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return elapsed, codes


def _count(engine: Engine, stmt: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--duplicates", type=int, default=60, help="deliveries sent twice")
    parser.add_argument("--concurrency", type=int, default=16, help="deliveries in flight at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for verification")
    parser.add_argument("--serve-dashboard", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_dashboard:
        _serve_dashboard(args.serve_dashboard)
        return 0

    work = Path(tempfile.mkdtemp(prefix="souq-bench-webhooks-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUQ_")}
    sandbox_port, port = _free_port(), _free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    # The sandbox runs as its own process: three servers in one interpreter would measure the GIL, and
    # sandbox.server.serve_in_thread's pre-bound socket currently lacks TCP_NODELAY (+40 ms per call).
    sandbox_proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(sandbox_port), "--db", str(work / "sandbox.db"),
         "--status-limit", str(BENCH_RATE), "--log-level", "warning"], cwd=ROOT, env=env)
    child: subprocess.Popen[bytes] | None = None
    try:
        _wait_healthy(f"{sandbox_url}/__sandbox/health", sandbox_proc)
        httpx.post(f"{sandbox_url}/__sandbox/config", json={"webhook_retries": 0}, timeout=10).raise_for_status()
        api_base = f"{sandbox_url}/api/v1/"
        db_url = sqlite_url(work / "dash.db")
        engine = make_engine(db_url)
        create_schema(engine)
        client = UPaymentsClient(api_base, "jtest123", status_rate_per_minute=BENCH_RATE)
        t0 = time.perf_counter()
        bodies = _prepare(client, sandbox_url, engine, args.payments)
        print(f"prepared {len(bodies)} paid payments in the sandbox and the cache in "
              f"{time.perf_counter() - t0:.1f} s")
        rng = random.Random(7)
        deliveries = bodies + rng.sample(bodies, min(args.duplicates, len(bodies)))
        rng.shuffle(deliveries)
        dash_env = {**env, "SOUQ_ENVIRONMENT": "sandbox", "SOUQ_DATABASE_URL": db_url, "SOUQ_GATEWAY_URL": api_base,
                    "SOUQ_GATEWAY_TOKEN": "jtest123", "SOUQ_STATUS_RATE_PER_MINUTE": "800"}
        child = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--serve-dashboard", str(port)],
                                 cwd=ROOT, env=dash_env)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{base}/api/health", child)
        started = time.perf_counter()
        ingest_s, codes = _fire(f"{base}/webhooks/upayments", deliveries, args.concurrency)
        ok = sum(1 for c in codes if c == 200)
        print(f"ingest: {ok}/{len(deliveries)} answered 200 in {ingest_s:.2f} s "
              f"({len(deliveries) / ingest_s:.0f}/s, concurrency {args.concurrency})")
        deadline = time.monotonic() + args.timeout
        processed = select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.processed_at.is_not(None))  # type: ignore[union-attr]
        while _count(engine, processed) < len(deliveries) and time.monotonic() < deadline:
            time.sleep(0.05)
        end_to_end_s = time.perf_counter() - started
        figures = _tally(engine, args.payments, len(deliveries) - len(bodies))
        print(f"verified end to end: {figures['paid']}/{args.payments} paid, {figures['hooked']} marked "
              f"webhook_received, {figures['errors']} events with an error, in {end_to_end_s:.2f} s "
              f"({args.payments / end_to_end_s:.0f} payments/s)")
        print(f"duplicates: {len(deliveries) - len(bodies)} sent, {figures['flagged']} flagged, "
              f"{figures['extra_changes']} extra status changes")
        client.close()
        engine.dispose()
    finally:
        for proc in (child, sandbox_proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    print(f"RESULT webhooks_per_s={len(deliveries) / ingest_s:.0f} lost={figures['lost']} "
          f"duplicates_collapsed={figures['collapsed']}")
    return 0 if figures["lost"] == 0 else 1


def _tally(engine: Engine, payments: int, duplicates_sent: int) -> dict[str, int]:
    """What the cache says after the run."""
    def count(model: Any, *where: Any) -> int:
        return _count(engine, select(func.count()).select_from(model).where(*where))

    paid = count(Payment, Payment.status == "paid")
    flagged = count(WebhookEvent, WebhookEvent.duplicate.is_(True))  # type: ignore[attr-defined]
    # A duplicate that was not collapsed would move its payment a second time.
    extra = count(PaymentEvent, PaymentEvent.kind == "status") - paid
    return {"paid": paid, "lost": payments - paid, "flagged": flagged, "extra_changes": extra,
            "collapsed": max(0, min(flagged, duplicates_sent) - max(0, extra)),
            "hooked": count(Payment, Payment.webhook_received.is_(True)),  # type: ignore[attr-defined]
            "errors": count(WebhookEvent, WebhookEvent.error.is_not(None))}  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
