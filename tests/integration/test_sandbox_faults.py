"""Fault injection, switched at run time over the admin API, seen by a plain HTTP client."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from sandbox.server import RunningSandbox
from tests.integration.conftest import Api, charge_body


def test_latency_and_hang(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.set_faults(latency_ms=300)
    started = time.perf_counter()
    assert api.get("check-payment-button-status").status_code == 201
    assert time.perf_counter() - started >= 0.3
    sandbox.set_faults(hang_seconds=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sandbox.api_base + "check-payment-button-status", timeout=0.3,
                  headers={"Authorization": "Bearer jtest123"})
    sandbox.clear_faults()
    assert api.get("check-payment-button-status").status_code == 201


def test_server_errors_and_rate_limit(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.set_faults(error_rate=1.0)
    failed = api.post("charge", charge_body())
    assert failed.status_code == 500 and failed.json() == {"message": "Server Error"}
    with pytest.raises(RuntimeError):
        sandbox.payment("ORD-1001")  # the 500 came before the handler: nothing was created
    sandbox.set_faults(rate_limit=True, retry_after=7)
    limited = api.get("check-payment-button-status")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json() == {"message": "Too Many Attempts."}
    assert httpx.get(f"{sandbox.url}/__sandbox/health").status_code == 200  # the admin API is never faulted


def test_malformed_json_still_performs_the_call(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.set_faults(malformed_json=True, count=1)
    broken = api.post("charge", charge_body())
    assert broken.status_code == 201
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    # An uncertain outcome, as in real life: the charge exists although the answer was unreadable.
    assert sandbox.payment("ORD-1001")["payment"]["amount_fils"] == 12_500
    assert api.post("charge", charge_body(order_id="ORD-2")).status_code == 201  # count=1: used up


def test_non_json_pages(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.set_faults(non_json=True)
    blocked = api.get("check-payment-button-status")
    assert blocked.status_code == 403 and blocked.headers["content-type"].startswith("text/html")
    assert "whitelisted" in blocked.text
    sandbox.set_faults(non_json=200)
    html_ok = api.get("check-payment-button-status")
    assert html_ok.status_code == 200 and html_ok.text.startswith("<!DOCTYPE html>")


def test_paths_and_count_limit_where_faults_apply(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.set_faults(error_rate=1.0, paths=["get-payment-status"], count=2)
    assert api.get("check-payment-button-status").status_code == 201
    assert api.get("get-payment-status/x").status_code == 500
    assert api.get("get-payment-status/x").status_code == 500
    assert api.get("get-payment-status/x").status_code == 404  # the two faulted calls are used up
    page = httpx.get(f"{sandbox.url}/pay/unknown")
    assert page.status_code == 404  # the payment page is not faulted by default
    bad = httpx.post(f"{sandbox.url}/__sandbox/faults", json={"error_rate": 2})
    assert bad.status_code == 400
    assert httpx.post(f"{sandbox.url}/__sandbox/faults", json={"nonsense": 1}).status_code == 400


def test_hold_waits_until_the_faults_change_and_status_calls_are_listed(api: Api, sandbox: RunningSandbox) -> None:
    """``hold``: a matching request stays unanswered until the fault set is replaced (other paths pass); every
    get-payment-status call is listed in order with the status it was answered with."""
    sandbox.set_faults(hold=True, paths=["check-payment-button-status"])
    answers: list[int] = []
    held = threading.Thread(target=lambda: answers.append(api.get("check-payment-button-status").status_code))
    held.start()
    assert api.get("get-payment-status/NO-SUCH-TRACK").status_code == 404  # another path is not held
    held.join(0.3)
    assert held.is_alive() and answers == []
    sandbox.clear_faults()
    held.join(10)
    assert answers == [201]
    assert sandbox.status_calls() == [{"id": "NO-SUCH-TRACK", "answer": 404}]
