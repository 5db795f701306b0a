"""Twins of every money-moving action, from threads in two processes at once: gateway calls == intents.

A twin is a request for an intent that another request already owns (the same idempotency key submitted again,
a double click on Approve, a second direct send of the same refund). Whatever mix of twins arrives, the sandbox
must see exactly one call per intent, the money it paid out must equal what we recorded, and every twin must
return the one outcome (services.intents). Calls are counted at the sandbox, never at our side.
"""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import refunds
from services.db import make_engine
from services.links import LinkRequest, create_link, new_idempotency_key
from services.models import Payment, Refund, RefundState
from services.money import format_money
from services.permissions import Actor, Role
from services.policy import Policy, configure
from services.refunds import ApprovalError, RefundInFlight, commands, request_refund
from tests.factories import make_db, make_staff
from tests.integration.test_refunds_race import _bare_main
from tests.integration.test_refunds_support import captured_payment, client_for, gateway_refunds, references
from tests.postgres import postgres_database

GIVE_UP_AFTER = 90.0
PROCESSES = 2


@dataclass(frozen=True)
class Job:
    """One request a thread makes: ``kind`` names the action, ``key`` what it is a twin by."""

    kind: str  # request | approve | send | link
    key: str
    payment_pk: int = 0
    amount_fils: int = 0
    refund_id: int = 0
    email: str = ""
    role: str = "finance"


@dataclass
class LinkSettings:
    public_url: str = "http://127.0.0.1:9/"
    link_expiry_minutes: int = 60
    gateway_timeout_seconds: float = 10.0


def _request_refund(engine: Engine, client: Any, job: Job) -> str:
    """Request until the one-in-flight rule lets it through; the refund id and state it ends with."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    rng = random.Random(job.key)
    configure(Policy(refund_approval_threshold_fils=10**9))  # no approvals: every twin goes for the gateway
    while True:
        try:
            refund = request_refund(engine, client, Actor(job.email, Role(job.role)), payment_pk=job.payment_pk,
                                    amount_fils=job.amount_fils, reason="duplicate", idempotency_key=job.key)
        except RefundInFlight:
            if time.monotonic() > deadline:
                return "gave_up"
            time.sleep(rng.uniform(0.002, 0.012))
            continue
        return f"{refund.id}:{refund.state}"


def _run(engine: Engine, client: Any, job: Job) -> str:
    actor = Actor(job.email, Role(job.role))
    try:
        if job.kind == "request":
            return _request_refund(engine, client, job)
        if job.kind == "approve":
            refund = refunds.approve_refund(engine, client, actor, refund_id=job.refund_id)
            return f"{refund.id}:{refund.state}"
        if job.kind == "send":
            refund = commands._send(engine, client, job.refund_id)
            return f"{refund.id}:{refund.state}"
        outcome = create_link(engine, client, actor, request=_link_request(job.key), settings_like=LinkSettings())
        return f"{outcome.order_id}:{outcome.state}"
    except (ApprovalError, refunds.RefundError) as exc:
        return f"refused:{type(exc).__name__}"


def _link_request(key: str) -> LinkRequest:
    return LinkRequest(idempotency_key=key, amount="7.250", description="Twin abaya", customer_name="Sara",
                       customer_phone="55123456")


def _threads(db_url: str, api_base: str, jobs: list[Job], barrier: Any) -> list[tuple[str, str]]:
    """Every job on its own thread in this process, all released at once (also the body of each process)."""
    engine = make_engine(db_url)
    start = threading.Barrier(len(jobs))
    results: list[tuple[str, str]] = [("", "")] * len(jobs)

    def work(i: int) -> None:
        start.wait()
        results[i] = (jobs[i].key, _run(engine, client, jobs[i]))

    with client_for(api_base, timeout=10.0) as client:
        barrier.wait(60)  # both processes are up and connected: go together
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(GIVE_UP_AFTER + 30)
    engine.dispose()
    return results


def _process_main(queue: Any, *args: Any) -> None:
    queue.put(_threads(*args))


def _in_processes(db_url: str, api_base: str, jobs: list[Job]) -> list[tuple[str, str]]:
    """Run ``jobs`` (each list given to every process) in PROCESSES spawned processes at once; all outcomes."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_process_main, args=(queue, db_url, api_base, jobs, barrier))
             for _ in range(PROCESSES)]
    with _bare_main():
        for proc in procs:
            proc.start()
    try:
        outcomes = [o for _ in procs for o in queue.get(timeout=GIVE_UP_AFTER + 90)]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    return outcomes


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _refund_totals(engine: Engine, sandbox: Any, payments: list[Payment]) -> tuple[list[Refund], list[dict[str, Any]],
                                                                                    int]:
    """Our refunds on ``payments``, the sandbox's create-refund records for them, and the recorded total."""
    with Session(engine) as session:
        ours = list(session.exec(select(Refund).where(col(Refund.payment_pk).in_([p.id for p in payments]))).all())
        rows = session.exec(select(Payment).where(col(Payment.id).in_([p.id for p in payments]))).all()
        recorded = sum(row.refunded_fils for row in rows)
    calls = [call for p in payments for call in gateway_refunds(sandbox, p)]
    return ours, calls, recorded


def _report(label: str, attempts: int, keys: int, intents: int, calls: int, paid: int, recorded: int,
            capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n[money twins, {label}] attempts={attempts} keys={keys} intents={intents} gateway calls={calls} "
              f"paid out {format_money(paid)} vs recorded {format_money(recorded)}")


def _refund_twins(engine: Engine, sandbox: Any, keys_per_payment: list[int], capsys: pytest.CaptureFixture[str],
                  label: str) -> None:
    """Each key submitted by 4 threads in each of 2 processes (8 twins), several keys on some payments."""
    finance = make_staff(engine, Role.FINANCE)
    with client_for(sandbox.api_base) as client:
        payments = [captured_payment(engine, sandbox, client, 5_000) for _ in keys_per_payment]
    jobs = [Job("request", f"{label[:2]}-{n}-{k}-{uuid_part()}", p.id or 0, 1_000, email=finance.email)
            for n, (p, count) in enumerate(zip(payments, keys_per_payment, strict=True)) for k in range(count)]
    twins = [job for job in jobs for _ in range(4)]
    outcomes = _in_processes(_url(engine), sandbox.api_base, twins)
    ours, calls, recorded = _refund_totals(engine, sandbox, payments)
    paid = sum(int(c["amount_fils"]) for c in calls)
    _report(label, len(outcomes), len(jobs), len(ours), len(calls), paid, recorded, capsys)
    assert len(outcomes) == 8 * len(jobs)
    assert len(calls) == len(ours) == len(jobs)  # one create-refund per intent, one intent per key
    assert paid == recorded == sum(r.amount_fils for r in ours if r.state == RefundState.INITIATED)
    refs = [ref for p in payments for ref in references(sandbox, p)]
    assert sorted(refs) == sorted(job.key for job in jobs)
    by_key = {r.idempotency_key: r for r in ours}
    for key, outcome in outcomes:  # every twin answers with the one refund of its key, and its outcome
        assert outcome == f"{by_key[key].id}:{RefundState.INITIATED}", (key, outcome)


def uuid_part() -> str:
    return new_idempotency_key()[-8:]


def test_same_key_refund_twins_from_two_processes_call_the_gateway_once_per_key(tmp_path, sandbox, capsys) -> None:
    _refund_twins(make_db(tmp_path), sandbox, [1] * 6, capsys, "same-key refunds, SQLite")


def test_mixed_same_and_different_key_refund_twins(tmp_path, sandbox, capsys) -> None:
    _refund_twins(make_db(tmp_path), sandbox, [1, 2, 3], capsys, "mixed-key refunds, SQLite")


@pytest.mark.postgres
def test_same_key_refund_twins_on_postgres(sandbox, capsys) -> None:
    with postgres_database("twins") as engine:
        _refund_twins(engine, sandbox, [1, 1, 1, 2, 2], capsys, "same/mixed-key refunds, PostgreSQL")


def _pending_refunds(engine: Engine, sandbox: Any, n: int) -> tuple[list[Payment], list[Refund]]:
    requester = make_staff(engine, Role.FINANCE)
    out: list[Refund] = []
    configure(Policy(refund_approval_threshold_fils=500))
    with client_for(sandbox.api_base) as client:
        payments = [captured_payment(engine, sandbox, client, 5_000) for _ in range(n)]
        for p in payments:
            out.append(request_refund(engine, client, requester, payment_pk=p.id or 0, amount_fils=2_000,
                                      reason="duplicate", idempotency_key=new_idempotency_key()))
    assert {r.state for r in out} == {RefundState.PENDING_APPROVAL}
    return payments, out


def _check_one_call_each(engine: Engine, sandbox: Any, payments: list[Payment], pending: list[Refund],
                         outcomes: list[tuple[str, str]], label: str, capsys: pytest.CaptureFixture[str]) -> None:
    ours, calls, recorded = _refund_totals(engine, sandbox, payments)
    paid = sum(int(c["amount_fils"]) for c in calls)
    _report(label, len(outcomes), len(pending), len(ours), len(calls), paid, recorded, capsys)
    assert len(calls) == len(pending) == len(ours)
    assert {r.state for r in ours} == {RefundState.INITIATED}
    assert paid == recorded == sum(r.amount_fils for r in ours)
    assert sorted(ref for p in payments for ref in references(sandbox, p)) == sorted(r.idempotency_key
                                                                                    for r in pending)


def test_approve_twins_from_two_processes_send_once(tmp_path, sandbox, capsys) -> None:
    """Two approvers, each double clicking in two processes, approve the same refunds at once: one call each."""
    engine = make_db(tmp_path)
    payments, pending = _pending_refunds(engine, sandbox, 4)
    approvers = [make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)]
    jobs = [Job("approve", str(r.id), refund_id=r.id or 0, email=a.email, role=a.role)
            for r in pending for a in approvers for _ in range(2)]
    outcomes = _in_processes(_url(engine), sandbox.api_base, jobs)
    _check_one_call_each(engine, sandbox, payments, pending, outcomes, "approve twins, SQLite", capsys)
    for key, outcome in outcomes:  # the winner and its twins see it initiated; the other approver is refused
        assert outcome in (f"{key}:{RefundState.INITIATED}", "refused:ApprovalError"), outcome


def test_direct_send_twins_from_two_processes_call_the_gateway_once(tmp_path, sandbox, capsys) -> None:
    """Even the low-level send of an intent already in ``sending``, run 8 times at once, calls the gateway once."""
    engine = make_db(tmp_path)
    payments, pending = _pending_refunds(engine, sandbox, 3)
    approver = make_staff(engine, Role.ADMIN)
    with Session(engine) as session:
        for refund in pending:  # approved, not yet sent: what approve_refund leaves for _send
            row = session.get(Refund, refund.id)
            assert row is not None
            row.state, row.approved_by = RefundState.SENDING, approver.email
            session.add(row)
        session.commit()
    jobs = [Job("send", str(r.id), refund_id=r.id or 0, email=approver.email) for r in pending for _ in range(4)]
    outcomes = _in_processes(_url(engine), sandbox.api_base, jobs)
    _check_one_call_each(engine, sandbox, payments, pending, outcomes, "direct send twins, SQLite", capsys)
    for key, outcome in outcomes:
        assert outcome == f"{key}:{RefundState.INITIATED}", outcome


def _charges_at_sandbox(sandbox: Any, order_ids: list[str]) -> dict[str, int]:
    uri = f"file:{Path(sandbox.config.db_path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return {o: int(conn.execute("SELECT COUNT(*) FROM payment WHERE merchant_order_id = ?", (o,)).fetchone()[0])
                for o in order_ids}


def _link_twins(engine: Engine, sandbox: Any, label: str, capsys: pytest.CaptureFixture[str]) -> None:
    sales = make_staff(engine, Role.SALES)
    jobs = [Job("link", new_idempotency_key(), email=sales.email, role="sales") for _ in range(5)]
    outcomes = _in_processes(_url(engine), sandbox.api_base, [j for j in jobs for _ in range(4)])
    order_ids = sorted({outcome.split(":")[0] for _, outcome in outcomes})
    charges = _charges_at_sandbox(sandbox, order_ids)
    with Session(engine) as session:
        links = list(session.exec(select(Payment).where(col(Payment.source) == "link")).all())
    total = sum(p.amount_fils for p in links)
    _report(label, len(outcomes), len(jobs), len(links), sum(charges.values()), 7_250 * sum(charges.values()),
            total, capsys)
    assert len(order_ids) == len(jobs) == len(links)  # the 8 twins of a key all answer with its one order id
    assert charges == dict.fromkeys(order_ids, 1)
    assert {outcome.split(":")[1] for _, outcome in outcomes} == {"active"}


def test_create_link_twins_from_two_processes_charge_once(tmp_path, sandbox, capsys) -> None:
    _link_twins(make_db(tmp_path), sandbox, "create-link twins, SQLite", capsys)


@pytest.mark.postgres
def test_create_link_twins_on_postgres(sandbox, capsys) -> None:
    with postgres_database("linktwins") as engine:
        _link_twins(engine, sandbox, "create-link twins, PostgreSQL", capsys)

