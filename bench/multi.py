"""Three app servers on one PostgreSQL behind nginx, under a steady stream of payments and junk webhooks.

    SOUQ_TEST_POSTGRES_URL=postgresql+psycopg://souq:souq@localhost/souq_test \\
        .venv/bin/python -m bench.multi [--minutes 10] [--rate 30] [--every 4] [--junk-every 2]

Starts the cluster of :mod:`bench.cluster` on a throw-away database. Every ``--every`` seconds a payment link
is created (the intent and the charge, as the links page does) and paid on the sandbox; the gateway's webhook
reaches the proxy, which hands it to any server. Every ``--junk-every`` seconds a junk webhook naming no
payment arrives, and now and then an identical copy of a real payment's delivery arrives at another server.
A third of the way and two thirds of the way in, the sync leader is killed (SIGKILL) and restarted a little
later.

Counted on the sandbox's side (:mod:`bench.counting_gateway`): the most status look-ups in any 60 s window
(must not pass ``--rate``), the look-ups per paid payment's track id (each delivery verified once), and how
long each leader hand-over took. The last line is ``RESULT max_lookups_60s=… rate=… payments=… paid=…
verified_once=… handover_s=…``.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bench.cluster import Cluster, running_cluster
from services.db import make_engine
from services.gateway import UPaymentsClient
from services.gateway.shared_limiter import DatabaseLimiter
from services.links import LinkRequest, create_link, new_idempotency_key
from services.models import Payment, PaymentStatus
from services.permissions import Actor, Role

WINDOW = 60.0


@dataclass
class LinkSettings:
    public_url: str
    link_expiry_minutes: int = 60
    gateway_timeout_seconds: float = 10.0


@dataclass
class Run:
    payments: list[str] = field(default_factory=list)  # order ids paid on the sandbox
    tracks: dict[str, str] = field(default_factory=dict)  # track id -> order id
    junk: int = 0
    copies: int = 0
    copies_collapsed: int = 0
    handovers: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def max_in_window(times: list[float], window: float = WINDOW) -> int:
    """The most events in any ``window`` seconds (a sliding window over sorted times)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _pay_one(cluster: Cluster, engine: Any, client: UPaymentsClient, run: Run, rng: random.Random) -> None:
    outcome = create_link(engine, client, Actor("sales@souq.demo", Role.SALES), request=LinkRequest(
        idempotency_key=new_idempotency_key(), amount=f"{rng.randint(1, 90)}.{rng.randint(0, 999):03d}",
        description="Bench abaya", customer_name="Sara", customer_phone="55123456"),
        settings_like=LinkSettings(public_url=cluster.proxy))
    with Session(engine) as session:
        payment = session.exec(select(Payment).where(col(Payment.order_id) == outcome.order_id)).one()
    done = httpx.post(f"{cluster.sandbox}/__sandbox/complete", timeout=30, json={
        "session_id": payment.session_id, "invoice_id": payment.invoice_id, "outcome": "captured",
        "wait_webhook": True}).json()
    run.payments.append(outcome.order_id)
    run.tracks[str(done["track_id"])] = outcome.order_id
    if rng.random() < 0.2:  # the same delivery again (a gateway retry), to whichever server the proxy picks
        # the parameters follow the last "?" (the gateway's quirk, §9.3); the webhook form-encodes the same ones
        body = urlencode(parse_qsl(str(done["redirect_url"]).rsplit("?", 1)[1], keep_blank_values=True))
        answer = httpx.post(f"{cluster.proxy}/webhooks/upayments", content=body, timeout=10,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        run.copies += 1
        run.copies_collapsed += bool(answer.status_code == 200 and answer.json().get("data", {}).get("duplicate"))


def _junk_one(cluster: Cluster, run: Run, rng: random.Random) -> None:
    track = "".join(rng.choice(string.digits) for _ in range(14))
    body = urlencode({"payment_id": track, "result": "CAPTURED", "track_id": track, "order_id": track,
                      "requested_order_id": f"JUNK-{track}"})
    httpx.post(f"{cluster.proxy}/webhooks/upayments", content=body, timeout=10,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    run.junk += 1


def _steady(every: float, until: float, stop: threading.Event, work: Any, run: Run) -> None:
    next_at = time.monotonic()
    while not stop.is_set() and time.monotonic() < until:
        try:
            work()
        except Exception as exc:  # counted and shown; the stream goes on
            run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        next_at += every
        stop.wait(max(0.0, next_at - time.monotonic()))


def _kill_leader(cluster: Cluster, run: Run) -> None:
    leader = cluster.wait_leader()
    started = time.monotonic()
    cluster.kill_app(leader)
    cluster.wait_leader(60, not_=leader)
    run.handovers.append(time.monotonic() - started)
    print(f"  leader {leader} killed; another server led after {run.handovers[-1]:.1f} s", flush=True)
    time.sleep(15)
    cluster.start_app(leader)
    cluster.wait_ready(leader)


def bench(database_url: str, root: Path, *, minutes: float, rate: int, every: float, junk_every: float,
          kills: int = 2) -> tuple[Run, dict[str, Any]]:
    run = Run()
    rng, junk_rng = random.Random(19), random.Random(20)
    with running_cluster(database_url, root, status_rate=rate, sync_interval=5) as cluster:
        engine = make_engine(database_url)
        client = UPaymentsClient(f"{cluster.sandbox}/api/v1/", "jtest123",
                                 status_limiter=DatabaseLimiter(engine, rate))
        started = time.monotonic()
        until = started + minutes * 60
        stop = threading.Event()
        streams = [threading.Thread(target=_steady, args=(every, until, stop,
                                                          lambda: _pay_one(cluster, engine, client, run, rng), run)),
                   threading.Thread(target=_steady, args=(junk_every, until, stop,
                                                          lambda: _junk_one(cluster, run, junk_rng), run))]
        for thread in streams:
            thread.start()
        for n in range(1, kills + 1):
            at = started + minutes * 60 * n / (kills + 1)
            time.sleep(max(0.0, at - time.monotonic()))
            _kill_leader(cluster, run)
        for thread in streams:
            thread.join()
        paid = _wait_paid(engine, run.payments, timeout=120)
        lookups = cluster.lookups()
        engine.dispose()
        client.close()
    return run, {"lookups": lookups, "paid": paid, "seconds": time.monotonic() - started}


def _wait_paid(engine: Any, orders: list[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            paid = len(session.exec(select(Payment.id).where(col(Payment.order_id).in_(orders),
                                                             col(Payment.status) == PaymentStatus.PAID)).all())
        if paid == len(orders) or time.monotonic() > deadline:
            return paid
        time.sleep(1)


def report(run: Run, result: dict[str, Any], rate: int) -> dict[str, Any]:
    lookups: list[dict[str, Any]] = result["lookups"]
    times = [row["t"] for row in lookups if row["status"] != 429]
    per_track = Counter(row["key"] for row in lookups if row["key"] in run.tracks)
    verified = [per_track.get(track, 0) for track in run.tracks]
    figures = {
        "minutes": round(result["seconds"] / 60, 1), "rate": rate, "lookups": len(times),
        "refused_429": sum(row["status"] == 429 for row in lookups), "max_lookups_60s": max_in_window(times),
        "payments": len(run.payments), "paid": result["paid"],
        "verified_once": sum(v == 1 for v in verified), "verified_more": sum(v > 1 for v in verified),
        "never_by_track": sum(v == 0 for v in verified), "junk": run.junk,
        "junk_lookups": sum(1 for row in lookups if row["key"] not in run.tracks and row["key"].isdigit()),
        "copies": run.copies, "copies_collapsed": run.copies_collapsed,
        "handover_s": [round(h, 1) for h in run.handovers], "errors": len(run.errors)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multi", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=30, help="the merchant's status look-ups a minute")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between payments")
    parser.add_argument("--junk-every", type=float, default=2.0, help="seconds between junk webhooks")
    parser.add_argument("--kills", type=int, default=2, help="times the sync leader is killed")
    parser.add_argument("--dir", help="where logs go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    base = os.environ.get("SOUQ_TEST_POSTGRES_URL")
    if not base:
        print("SOUQ_TEST_POSTGRES_URL must name a PostgreSQL server (scripts/test starts a local one)",
              file=sys.stderr)
        return 2
    name = f"souq_bench_multi_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="souq-multi-"))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        print(f"three app servers, {args.minutes:g} min, budget {args.rate}/min, logs in {root}", flush=True)
        run, result = bench(url, root, minutes=args.minutes, rate=args.rate, every=args.every,
                            junk_every=args.junk_every, kills=args.kills)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    figures = report(run, result, args.rate)
    for problem in run.errors[:5]:
        print("  error:", problem)
    print("RESULT " + " ".join(f"{k}={v}".replace(" ", "") for k, v in figures.items()))
    ok = (figures["max_lookups_60s"] <= args.rate and figures["paid"] == figures["payments"]
          and figures["verified_more"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
