"""Race: many threads, and two processes, refund one captured payment at the sandbox with different keys.

Each attempt keeps trying while another refund on the payment is in flight (the one-in-flight rule refuses it)
and stops when we refuse it as an over-refund. Whatever the interleaving, the refunded total must never exceed
the captured amount, every accepted intent must be exactly one create-refund call at the gateway, and — since
every attempt eventually gets its turn — exactly floor(captured / amount) attempts must be accepted.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import time
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from services.db import make_engine
from services.models import RefundState
from services.money import format_money
from services.permissions import Actor, Role
from services.policy import Policy, configure
from services.refunds import OverRefund, RefundInFlight, request_refund
from tests.factories import make_db, make_staff
from tests.integration.test_refunds_support import (
    captured_payment,
    client_for,
    gateway_refunds,
    our_refunds,
    references,
    refunded_fils,
)
from tests.postgres import postgres_database

GIVE_UP_AFTER = 90.0


def _attempt(engine: Any, client: Any, actor: Actor, payment_pk: int, amount: int, key: str) -> str:
    """One person's refund attempt: retry while another refund is in flight; the final state or 'refused'."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    rng = random.Random(key)
    configure(Policy(refund_approval_threshold_fils=10**9))  # no approvals: every attempt goes for the gateway
    while True:
        try:
            refund = request_refund(engine, client, actor, payment_pk=payment_pk, amount_fils=amount,
                                    reason="duplicate", idempotency_key=key)
        except RefundInFlight:
            if time.monotonic() > deadline:
                return "gave_up"
            time.sleep(rng.uniform(0.002, 0.012))
            continue
        except OverRefund:
            return "refused"
        return str(refund.state)


def _threads(db_url: str, api_base: str, email: str, payment_pk: int, amount: int, n: int,
             prefix: str) -> list[str]:
    """``n`` threads attempting at once in this process (also the body of each spawned process)."""
    engine = make_engine(db_url)
    actor = Actor(email, Role.FINANCE)
    with client_for(api_base, timeout=10.0) as client, ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(_attempt, engine, client, actor, payment_pk, amount, f"{prefix}-{i:03d}")
                   for i in range(n)]
        outcomes = [f.result() for f in futures]
    engine.dispose()
    return outcomes


def _check_and_report(label: str, engine: Any, sandbox: Any, payment: Any, amount: int, outcomes: list[str],
                      seconds: float, capsys: pytest.CaptureFixture[str]) -> None:
    captured = payment.amount_fils
    refunds = our_refunds(engine, payment)
    initiated = [r for r in refunds if r.state == RefundState.INITIATED]
    calls = gateway_refunds(sandbox, payment)
    total = refunded_fils(engine, payment)
    with capsys.disabled():
        print(f"\n[refund race, {label}] attempts={len(outcomes)} accepted={outcomes.count('initiated')} "
              f"refused={outcomes.count('refused')} refunded={format_money(total)} of {format_money(captured)} "
              f"captured; gateway create-refund calls={len(calls)} for {len(initiated)} initiated intents; "
              f"{seconds:.1f} s")
    assert total <= captured
    assert total == sum(r.amount_fils for r in initiated) == sum(int(c["amount_fils"]) for c in calls)
    assert outcomes.count("initiated") == len(initiated) == captured // amount
    assert outcomes.count("refused") == len(outcomes) - captured // amount and "gave_up" not in outcomes
    assert len(refunds) == len(initiated)  # no intent failed or was left uncertain
    refs = references(sandbox, payment)
    assert len(refs) == len(set(refs)) == len(calls)  # one call per intent, never two for one key
    assert set(refs) == {r.idempotency_key for r in initiated}


def test_fifty_threads_never_refund_more_than_captured(tmp_path, sandbox, capsys) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    with client_for(sandbox.api_base) as client:
        payment = captured_payment(engine, sandbox, client, 10_000)
    started = time.monotonic()
    outcomes = _threads(str(engine.url), sandbox.api_base, finance.email, payment.id or 0, 300, 50, "t")
    _check_and_report("50 threads", engine, sandbox, payment, 300, outcomes, time.monotonic() - started, capsys)


def _process_main(queue: Any, *args: Any) -> None:
    """Body of one spawned process: run the threads, send the outcomes back."""
    queue.put(_threads(*args))


@contextmanager
def _bare_main() -> Iterator[None]:
    """Spawn re-runs ``__main__`` in the child; after an AppTest, that is a Streamlit page script (Streamlit
    installs a fake ``__main__`` and leaves it there), which would kill the children. Start them from a bare one."""
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = real


def test_two_processes_never_refund_more_than_captured(tmp_path, sandbox, capsys) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    with client_for(sandbox.api_base) as client:
        payment = captured_payment(engine, sandbox, client, 3_000)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(queue, str(engine.url), sandbox.api_base, finance.email,
                                                     payment.id or 0, 250, 8, f"p{n}")) for n in range(2)]
    started = time.monotonic()
    with _bare_main():
        for proc in procs:
            proc.start()
    try:
        outcomes = [o for _ in procs for o in queue.get(timeout=GIVE_UP_AFTER + 60)]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
    _check_and_report("2 processes x 8 threads", engine, sandbox, payment, 250, outcomes,
                      time.monotonic() - started, capsys)


@pytest.mark.postgres
def test_fifty_threads_on_postgres_lock_the_payment_row(sandbox, capsys) -> None:
    with postgres_database("race") as engine:
        finance = make_staff(engine, Role.FINANCE)
        with client_for(sandbox.api_base) as client:
            payment = captured_payment(engine, sandbox, client, 10_000)
        started = time.monotonic()
        outcomes = _threads(engine.url.render_as_string(hide_password=False), sandbox.api_base, finance.email,
                            payment.id or 0, 300, 50, "pg")
        _check_and_report("50 threads, PostgreSQL", engine, sandbox, payment, 300, outcomes,
                          time.monotonic() - started, capsys)
