"""The shared demo generator: deterministic, fast, and shaped like a Kuwaiti shop's history."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.demo.data import DemoPayment, generate

ANCHOR = date(2026, 5, 20)
KUWAIT = ZoneInfo("Asia/Kuwait")


@pytest.fixture(scope="module")
def history() -> list[DemoPayment]:
    return list(generate(ANCHOR))


def test_same_arguments_same_history() -> None:
    first = list(generate(ANCHOR, count=500))
    assert first == list(generate(ANCHOR, count=500))
    assert first != list(generate(ANCHOR, count=500, seed=1))
    assert first[0].track_id != next(generate(ANCHOR + timedelta(days=1), count=500)).track_id


def test_ids_are_unique_and_gateway_shaped(history: list[DemoPayment]) -> None:
    for key in ("merchant_order_id", "track_id", "upay_order_id", "session_id"):
        assert len({getattr(p, key) for p in history}) == len(history), key
    for p in history[:500]:
        assert re.fullmatch(r"[A-Za-z0-9]{32}", p.track_id) and re.fullmatch(r"[0-9a-f]{32}", p.session_id)
        assert p.upay_order_id.startswith("ME3OdxVO6m" + p.merchant_order_id) and len(p.merchant_order_id) <= 50
        assert re.fullmatch(r"\d{18}" if p.payment_type == "knet" else r"[0-9a-f]{16}", p.payment_id)
        assert re.fullmatch(r"\+965[569]\d{7}", p.customer_phone)


def test_time_window_and_kuwait_rhythm(history: list[DemoPayment]) -> None:
    start = datetime(2026, 2, 19, tzinfo=KUWAIT)  # 90 days before the anchor
    end = datetime(2026, 5, 20, tzinfo=KUWAIT)  # the anchor's Kuwait midnight: nothing in the future
    assert all(start <= p.created_at < end and p.created_at.tzinfo == UTC for p in history)
    assert [p.created_at for p in history] == sorted(p.created_at for p in history)
    local = [p.created_at.astimezone(KUWAIT) for p in history]
    hours = Counter(t.hour for t in local)
    assert hours[20] + hours[21] > 2 * (hours[9] + hours[10])  # busy evenings
    friday = Counter(t.hour for t in local if t.weekday() == 4)
    assert sum(friday[h] for h in range(7, 12)) < 0.5 * sum(friday[h] for h in range(19, 24))
    assert len({t.date() for t in local}) == 90


def test_method_result_and_refund_mix(history: list[DemoPayment]) -> None:
    n = len(history)
    methods = Counter(p.method for p in history)
    expected = {"knet": 0.55, "card": 0.23, "apple_pay": 0.13, "google_pay": 0.04, "samsung_pay": 0.02,
                "amex": 0.02, "apple_pay_knet": 0.01}
    for method, share in expected.items():
        assert abs(methods[method] / n - share) < 0.015, method
    results = Counter(p.result for p in history)
    assert abs(results["NOT CAPTURED"] / n - 0.08) < 0.01 and abs(results["CANCELED"] / n - 0.03) < 0.01
    captured = [p for p in history if p.result == "CAPTURED"]
    refunded = [p for p in captured if p.refunds]
    assert 0.01 < len(refunded) / len(captured) < 0.03
    assert not any(p.refunds for p in history if p.result != "CAPTURED")
    for p in refunded:
        for r in p.refunds:
            assert 0 < r.amount_fils <= p.amount_fils and r.created_at > p.created_at
            assert r.refunded_at is None or r.refunded_at > r.created_at
    assert {(p.src, p.payment_type) for p in history if p.method == "apple_pay"} == {("apple-pay", "cc")}


def test_amounts_look_like_shop_prices(history: list[DemoPayment]) -> None:
    amounts = [p.amount_fils for p in history]
    assert min(amounts) >= 1_250 and max(amounts) <= 250_000
    assert sum(1 for a in amounts if a % 250 == 0) / len(amounts) > 0.8
    assert all(isinstance(a, int) for a in amounts)
    assert 8_000 < sorted(amounts)[len(amounts) // 2] < 25_000
    assert all(p.currency == "KWD" and p.description for p in history[:100])


def test_today_so_far_runs_up_to_until_and_only_grows() -> None:
    morning = datetime(2026, 5, 20, 9, 30, tzinfo=KUWAIT)
    evening = datetime(2026, 5, 20, 21, 0, tzinfo=KUWAIT)
    history = list(generate(ANCHOR, count=4_000))
    by_morning = list(generate(ANCHOR, count=4_000, until=morning))
    by_evening = list(generate(ANCHOR, count=4_000, until=evening))
    assert by_morning[:4_000] == history == by_evening[:4_000]  # the 90 days before are untouched
    today_morning, today_evening = by_morning[4_000:], by_evening[4_000:]
    assert today_evening[:len(today_morning)] == today_morning  # restarting later only adds payments
    midnight = datetime(2026, 5, 20, tzinfo=KUWAIT)
    assert all(midnight <= p.created_at < evening for p in today_evening)
    assert [p.created_at for p in today_evening] == sorted(p.created_at for p in today_evening)
    ids = [p.merchant_order_id for p in by_evening]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"SD260520-T\d{4}", i) for i in ids[4_000:])
    assert all(r.refunded_at is None or r.refunded_at < evening for p in today_evening for r in p.refunds)
    # About the history's daily rate (4,000 / 90 days, Wednesday weight 1.0), shaped by the hour of day.
    whole_day = len(list(generate(ANCHOR, count=4_000, until=midnight + timedelta(days=1)))) - 4_000
    assert 0.6 * 4_000 / 90 < whole_day < 1.4 * 4_000 / 90
    assert len(today_evening) > 2 * len(today_morning) > 0
