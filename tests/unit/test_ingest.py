"""The upsert is idempotent and order-independent, never moves a final status back, and trusts only verified data."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from services.db import session_scope
from services.gateway.vocab import result_to_status
from services.ingest import Observation, upsert
from services.models import Payment, PaymentEvent
from tests.factories import make_db

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def obs(result: str | None, *, track: str, minutes: int, verified: bool = True, amount: int = 12_500,
        order: str = "SD-1", method: str = "knet") -> Observation:
    return Observation(merchant_order_id=order, verified=verified, source="status" if verified else "webhook",
                       result=result, track_id=track, upay_order_id="UP-" + order, payment_id="P" + track,
                       method=method, amount_fils=amount, currency="KWD",
                       transaction_at=T0 + timedelta(minutes=minutes), raw={"result": result})


# A customer's link: first attempt cancelled, second declined, third paid; plus a late stale "pending" look-up.
HISTORY = [
    obs(None, track="T0", minutes=0),
    obs("CANCELED", track="T1", minutes=1),
    obs("NOT CAPTURED", track="T2", minutes=2),
    obs("CAPTURED", track="T3", minutes=3, method="apple_pay"),
]


def final_state(engine) -> tuple:
    with Session(engine) as session:
        p = session.exec(select(Payment)).one()
        return p.status, p.result, p.track_id, p.payment_id, p.method, p.method_family, p.amount_fils, p.upay_order_id


def apply_all(engine, observations) -> None:
    for o in observations:
        with session_scope(engine) as session:
            upsert(session, o)


def test_status_words_map_to_our_statuses() -> None:
    assert result_to_status("CAPTURED") == "paid"
    assert result_to_status("NOT CAPTURED") == result_to_status("NOT+CAPTURED") == result_to_status("ERROR") == "failed"
    assert result_to_status("CANCELED") == result_to_status("CANCELLED") == "cancelled"
    assert result_to_status(None) == result_to_status("PENDING") == result_to_status("Processing") == "pending"
    assert result_to_status(None, "expired") == "expired"


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(HISTORY)))))
def test_any_order_gives_the_same_final_row(tmp_path, order) -> None:
    engine = make_db(tmp_path, f"o{''.join(map(str, order))}.db")
    apply_all(engine, [HISTORY[i] for i in order])
    assert final_state(engine) == ("paid", "CAPTURED", "T3", "PT3", "apple_pay", "wallet", 12_500, "UP-SD-1")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(range(len(HISTORY))), min_size=1, max_size=10))
def test_idempotent_under_repeats_and_shuffles(tmp_path_factory, picks) -> None:
    engine = make_db(tmp_path_factory.mktemp("h"))
    apply_all(engine, [HISTORY[i] for i in picks])
    once = final_state(engine)
    apply_all(engine, [HISTORY[i] for i in picks])  # everything again: nothing changes
    assert final_state(engine) == once
    best = max(picks, key=lambda i: ({"CAPTURED": 2}.get(HISTORY[i].result or "", 1 if HISTORY[i].result else 0), i))
    assert once[2] == HISTORY[best].track_id


def test_paid_is_never_moved_back_and_repeat_adds_no_timeline_noise(tmp_path) -> None:
    engine = make_db(tmp_path)
    apply_all(engine, [HISTORY[3], HISTORY[3], HISTORY[1], HISTORY[0]])
    assert final_state(engine)[0] == "paid"
    with Session(engine) as session:
        events = session.exec(select(PaymentEvent)).all()
    assert [e.kind for e in events] == ["status"]  # created as paid once; later payloads changed nothing


def test_unverified_payload_never_changes_status_or_creates_rows(tmp_path) -> None:
    engine = make_db(tmp_path)
    with session_scope(engine) as session:
        result = upsert(session, obs("CAPTURED", track="T9", minutes=5, verified=False))
    assert result.payment is None and result.problem
    apply_all(engine, [HISTORY[0]])
    with session_scope(engine) as session:
        upsert(session, obs("CAPTURED", track="T9", minutes=5, verified=False))
    assert final_state(engine)[0] == "pending"


def test_verified_payload_for_a_different_amount_is_refused(tmp_path) -> None:
    engine = make_db(tmp_path)
    apply_all(engine, [HISTORY[0]])
    with session_scope(engine) as session:
        result = upsert(session, obs("CAPTURED", track="T3", minutes=3, amount=1))
    assert result.problem and "amount" in result.problem
    assert final_state(engine)[0] == "pending"


def test_created_row_is_bucketed_on_the_kuwait_day(tmp_path) -> None:
    engine = make_db(tmp_path)
    late = obs("CAPTURED", track="T5", minutes=0)
    late.transaction_at = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 00:30 on the 21st in Kuwait
    apply_all(engine, [late])
    with Session(engine) as session:
        assert session.exec(select(Payment.local_day)).one() == "2026-11-21"
