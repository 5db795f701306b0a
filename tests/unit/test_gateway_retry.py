"""Retry policy (look-ups retried, money-moving POSTs never) and the get-payment-status limiter."""

from __future__ import annotations

import threading

import httpx
import pytest

from services.gateway import UPaymentsClient, errors
from services.gateway.limiter import SlidingWindowLimiter

TX = {"status": True, "data": {"transaction": {"order_id": "U1", "result": "CAPTURED", "total_price": "1.000",
                                               "currency_type": "KWD", "track_id": "T1"}}}


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(responses: list):
    """A handler answering from a list: httpx.Response objects, or exceptions to raise."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        item = responses[min(len(calls) - 1, len(responses) - 1)]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, calls


def make(handler, clock: FakeClock, **kw) -> UPaymentsClient:
    return UPaymentsClient("https://gw.test/api/v1/", "tok", transport=httpx.MockTransport(handler),
                           clock=clock, sleep=clock.sleep, **kw)


CHARGE = {"order_id": "O1", "amount_fils": 1000, "description": "d", "return_url": "r", "cancel_url": "c",
          "notification_url": "n"}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"message": "down"}),
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(429, json={"message": "Too Many Attempts."}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_get_is_retried_then_succeeds(failure):
    clock = FakeClock()
    handler, calls = scripted([failure, failure, httpx.Response(201, json=TX)])
    with make(handler, clock, max_retries=2) as c:
        tx = c.payments.status(track_id="T1")
    assert tx.result == "CAPTURED" and len(calls) == 3
    assert len(clock.sleeps) == 2
    # exponential backoff with jitter in [0.5, 1] of 0.5 s, 1 s
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[1] <= 1.0


def test_get_gives_up_after_max_retries():
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(502, json={"message": "bad gateway"})])
    with make(handler, clock, max_retries=2) as c, pytest.raises(errors.ServerError):
        c.refunds.check(order_id="U1")
    assert len(calls) == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"message": "down"}),
        httpx.Response(429, json={"message": "slow"}, headers={"Retry-After": "1"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_money_moving_posts_are_never_retried(failure):
    clock = FakeClock()
    ok = httpx.Response(201, json={"status": True, "data": {"link": "x", "orderId": "R", "refundOrderId": "RO"}})
    for call in (
        lambda c: c.charges.create(**CHARGE),
        lambda c: c.refunds.create(order_id="U1", amount_fils=500),
        lambda c: c.refunds.delete(order_id="R", refund_order_id="RO"),
    ):
        handler, calls = scripted([failure, ok])
        with make(handler, clock, max_retries=5) as c, pytest.raises(errors.GatewayError):
            call(c)
        assert len(calls) == 1
    assert clock.sleeps == []


def test_4xx_and_refusals_are_not_retried():
    clock = FakeClock()
    for failure in (httpx.Response(404, json={"message": "no"}), httpx.Response(201, json={"status": False}),
                    httpx.Response(201, text="<html/>")):
        handler, calls = scripted([failure, httpx.Response(201, json=TX)])
        with make(handler, clock) as c, pytest.raises(errors.GatewayError):
            c.payments.status(track_id="T1")
        assert len(calls) == 1


def test_retry_after_is_honoured_and_capped():
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(201, json=TX)])
    with make(handler, clock) as c:
        c.payments.status(track_id="T1")
    assert clock.sleeps == [3.0] and len(calls) == 2
    # a Retry-After beyond the cap is not slept through: the caller gets RateLimited at once
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(429, headers={"Retry-After": "120"}), httpx.Response(201, json=TX)])
    with make(handler, clock, retry_after_cap=10.0) as c, pytest.raises(errors.RateLimited) as info:
        c.payments.status(track_id="T1")
    assert info.value.retry_after == 120.0 and clock.sleeps == [] and len(calls) == 1


def test_limiter_blocks_status_calls_to_the_rate():
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(201, json=TX)])
    start = clock.now
    with make(handler, clock, status_rate_per_minute=3) as c:
        for _ in range(7):
            c.payments.status(track_id="T1")
        # other endpoints are not limited
        for _ in range(5):
            c.refunds.check(order_id="U1")
    assert len(calls) == 12
    # 7 status calls at 3/min: calls 4-6 wait for the first window, call 7 for the second
    assert clock.now - start == pytest.approx(120.0)
    assert clock.sleeps == [pytest.approx(60.0), pytest.approx(60.0)]


def test_limiter_timeout_raises_rate_limited_without_sleeping():
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(201, json=TX)])
    with make(handler, clock, status_rate_per_minute=2, limiter_timeout=5.0) as c:
        c.payments.status(track_id="T1")
        c.payments.status(track_id="T2")
        with pytest.raises(errors.RateLimited) as info:
            c.payments.status(track_id="T3")
        assert info.value.retry_after == pytest.approx(60.0)
        assert "track_id=T3" in str(info.value) and "get-payment-status" in str(info.value)
        assert clock.sleeps == []
        clock.now += 30
        with pytest.raises(errors.RateLimited) as info:
            c.payments.status(track_id="T3", limiter_timeout=29.0)
        assert info.value.retry_after == pytest.approx(30.0)
        c.payments.status(track_id="T3", limiter_timeout=31.0)  # per-call override waits
    assert clock.sleeps == [pytest.approx(30.0)]
    assert len(calls) == 3


def test_retries_take_limiter_slots_too():
    clock = FakeClock()
    handler, calls = scripted([httpx.Response(500), httpx.Response(500), httpx.Response(201, json=TX)])
    with make(handler, clock, status_rate_per_minute=2, max_retries=2) as c:
        c.payments.status(track_id="T1")
    assert len(calls) == 3
    assert clock.now - 1000.0 >= 60.0  # the third attempt had to wait for a slot


def test_sliding_window_counts_from_call_end():
    clock = FakeClock()
    lim = SlidingWindowLimiter(2, 60.0, clock=clock, sleep=clock.sleep)
    a = lim.acquire(0)
    clock.now += 10  # a long call: the gateway may have seen it as late as t+10
    lim.release(a)
    lim.acquire(0)
    clock.now += 55  # 65 s after a started, 55 s after it ended: still counts
    assert lim.in_window() == 2
    with pytest.raises(errors.RateLimited) as info:
        lim.acquire(1.0)
    assert info.value.retry_after == pytest.approx(5.0)
    lim.acquire(5.0)
    assert clock.sleeps == [pytest.approx(5.0)]
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0)


def test_limiter_is_thread_safe():
    lim = SlidingWindowLimiter(50, 3600.0)
    granted: list[int] = []
    refused: list[int] = []

    def worker(i: int) -> None:
        try:
            lim.acquire(0)
            granted.append(i)
        except errors.RateLimited:
            refused.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50 and len(refused) == 150
