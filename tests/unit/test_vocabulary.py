"""One vocabulary: every gateway result word of contract §7.1 → one PaymentStatus, for ingest and tests alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from services.db import session_scope
from services.gateway import result_to_status
from services.ingest import Observation, upsert
from services.models import Payment, PaymentStatus
from tests.factories import make_db

ROOT = Path(__file__).resolve().parents[2]

#: Contract §7.1, row by row (plus the spellings it says plugins accept), and the words it does not list.
SECTION_7: list[tuple[str | None, PaymentStatus]] = [
    ("CAPTURED", PaymentStatus.PAID),
    ("NOT CAPTURED", PaymentStatus.FAILED), ("NOT%20CAPTURED", PaymentStatus.FAILED),
    ("NOT+CAPTURED", PaymentStatus.FAILED),
    ("CANCELED", PaymentStatus.CANCELLED), ("CANCELLED", PaymentStatus.CANCELLED),
    ("ERROR", PaymentStatus.FAILED), ("FAILED", PaymentStatus.FAILED), ("FAILURE", PaymentStatus.FAILED),
    ("PENDING", PaymentStatus.PENDING), ("AUTHORIZED", PaymentStatus.PENDING), ("APPROVED", PaymentStatus.PENDING),
    ("REFUND", PaymentStatus.PAID), ("VOIDED", PaymentStatus.CANCELLED),
    (None, PaymentStatus.PENDING), ("Processing", PaymentStatus.PENDING),
    ("SUCCESS", PaymentStatus.PAID),
]
NOT_IN_SECTION_7: list[tuple[str | None, PaymentStatus]] = [
    ("REFUNDED", PaymentStatus.PAID), ("DECLINED", PaymentStatus.FAILED), ("DENIED", PaymentStatus.FAILED),
    ("REJECTED", PaymentStatus.FAILED), ("SOMETHING NEW", PaymentStatus.PENDING), ("", PaymentStatus.PENDING),
]


@pytest.mark.parametrize(("word", "status"), SECTION_7 + NOT_IN_SECTION_7)
def test_each_word_has_one_status(word: str | None, status: PaymentStatus) -> None:
    got = result_to_status(word)
    assert type(got) is PaymentStatus and got is status


def test_expired_comes_from_the_transaction_status_when_there_is_no_result() -> None:
    assert result_to_status(None, "expired") is PaymentStatus.EXPIRED
    assert result_to_status("CAPTURED", "expired") is PaymentStatus.PAID


@given(st.sampled_from(SECTION_7 + NOT_IN_SECTION_7), st.sampled_from([str.lower, str.title, str.upper]),
       st.sampled_from([" ", "  ", "+", "%20", "_"]), st.text(" ", max_size=3))
def test_spelling_does_not_change_the_status(pair: tuple[str | None, PaymentStatus], case: object,
                                             space: str, pad: str) -> None:
    word, status = pair
    if word is None:
        return
    variant = pad + case(word).replace(" ", space) + pad  # type: ignore[operator]
    assert result_to_status(variant) is status


@pytest.mark.parametrize(("word", "status"), [("VOIDED", "cancelled"), ("DENIED", "failed"),
                                              ("REJECTED", "failed"), ("REFUNDED", "paid"), ("REFUND", "paid")])
def test_ingest_stores_the_same_status_for_the_words_the_two_tables_disagreed_on(tmp_path: Path, word: str,
                                                                                 status: str) -> None:
    engine = make_db(tmp_path)
    at = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        upsert(session, Observation(merchant_order_id="SD-V", verified=True, source="status", result=word,
                                    track_id="TV", upay_order_id="UP-V", payment_id="PV", method="knet",
                                    amount_fils=5_000, currency="KWD", transaction_at=at, raw={"result": word}))
    with Session(engine) as session:
        assert session.exec(select(Payment.status)).one() == status == result_to_status(word)


_BY_HAND = re.compile(r"""(==|!=)\s*["'](paid|failed|cancelled|pending|expired)["']|"""
                      r"""\bin\s*[({\[]\s*["'](paid|failed|cancelled|pending|expired)["']""")


@pytest.mark.parametrize("folder", ["services", "pages"])
def test_no_module_compares_payment_status_strings_by_hand(folder: str) -> None:
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / folder).rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if _BY_HAND.search(line) and not line.lstrip().startswith(("#", "-"))]
    assert found == []
