"""The gateway client against the sandbox over real loopback HTTP: every endpoint, outcome and fault."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC
from typing import Any

import pytest

from services.gateway import (
    Customer,
    Product,
    UPaymentsClient,
    errors,
    is_uncertain,
    parse_redirect,
    result_to_status,
)

TOKEN = "jtest123"  # public non-white-label sandbox key (contract §1.2)
WL_TOKEN = "e66a94d579cf75fba327ff716ad68c53aae11528"  # public white-label sandbox key


def new_order() -> str:
    return f"ORD-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(sandbox):
    with UPaymentsClient(sandbox.api_base, TOKEN, timeout=2.0, connect_timeout=1.0, backoff_base=0.01) as c:
        yield c


@pytest.fixture
def wl_client(sandbox):
    with UPaymentsClient(sandbox.api_base, WL_TOKEN, timeout=2.0, connect_timeout=1.0, backoff_base=0.01) as c:
        yield c


def charge(c: UPaymentsClient, order_id: str, amount_fils: int = 12500, **kw):
    args: dict[str, Any] = {
        "order_id": order_id,
        "amount_fils": amount_fils,
        "description": f"Order {order_id}",
        "return_url": f"https://shop.example/pay/return?o={order_id}",
        "cancel_url": f"https://shop.example/pay/cancel?o={order_id}",
        "notification_url": "https://shop.example/pay/webhook",
    } | kw
    return c.charges.create(**args)


@pytest.mark.parametrize(
    ("outcome", "word", "status"),
    [("captured", "CAPTURED", "paid"), ("declined", "NOT CAPTURED", "failed"), ("cancelled", "CANCELED", "cancelled")],
)
def test_hosted_charge_each_outcome_redirect_and_status(sandbox, client, outcome, word, status):
    order_id = new_order()
    created = charge(client, order_id, customer=Customer(name="Sara", mobile="+96550000000", unique_id="C42"),
                     products=[Product(name="Mug", price_fils=6250, quantity=2)], reference_id="REF1")
    assert created.link.startswith("http") and created.session_id
    done = sandbox.complete(session_id=created.session_id, method="knet", outcome=outcome)

    redirect = parse_redirect(done["redirect_url"])
    assert redirect.result == word and result_to_status(redirect.result) == status
    assert redirect.merchant_order_id == order_id  # §16 A16: the redirect's order_id is ours
    assert redirect.merchant_params == {"o": order_id}  # the ?payment_id quirk repaired (§9.3)
    assert redirect.track_id == done["track_id"]

    tx = client.payments.status(track_id=done["track_id"])
    assert tx.result == word and result_to_status(tx.result) == status
    assert tx.merchant_order_id == order_id
    assert tx.upay_order_id and tx.upay_order_id != order_id  # §16 A16: status order_id is the UPayments id
    assert tx.upay_order_id == redirect.upay_order_id
    assert tx.amount_fils == 12500 and tx.currency == "KWD"
    assert tx.method == "knet" and tx.payment_type == "knet"
    assert tx.transaction_at is not None and tx.transaction_at.tzinfo == UTC
    assert tx.reference == "REF1" and tx.session_id == created.session_id
    assert tx.raw["merchant_requested_order_id"] == order_id

    by_session = client.payments.status(session_id=created.session_id)
    assert by_session.track_id == done["track_id"] and by_session.result == word


@pytest.mark.parametrize(
    ("method", "ours"),
    [("knet", "knet"), ("card", "card"), ("amex", "amex"), ("apple_pay", "apple_pay"),
     ("apple_pay_knet", "apple_pay_knet"), ("google_pay", "google_pay"), ("samsung_pay", "samsung_pay")],
)
def test_every_method_is_reported(sandbox, client, method, ours):
    # live says only knet/cc/card (§16 A15, §18 F7); wallets are visible through the sandbox convenience
    sandbox.configure(conveniences=["payment_method"])
    created = charge(client, new_order(), amount_fils=1000)
    done = sandbox.complete(session_id=created.session_id, method=method, outcome="captured")
    tx = client.payments.status(track_id=done["track_id"])
    assert tx.method == ours
    assert tx.payment_type == ("knet" if ours == "knet" else "cc")  # §16 A15
    assert parse_redirect(done["redirect_url"]).method == ours


def test_white_label_charge_returns_track_id(sandbox, wl_client):
    order_id = new_order()
    created = charge(wl_client, order_id, amount_fils=2500, src="knet")
    assert created.track_id
    before = wl_client.payments.status(track_id=created.track_id)
    assert before.result is None and result_to_status(before.result) == "pending"
    assert before.merchant_order_id == order_id and before.amount_fils == 2500


def test_two_decimal_currency_amounts(sandbox, client):
    created = charge(client, new_order(), amount_fils=1999, currency="USD")
    done = sandbox.complete(session_id=created.session_id, method="card", outcome="captured")
    tx = client.payments.status(track_id=done["track_id"])
    assert (tx.amount_fils, tx.currency) == (1999, "USD")


def test_invoice_link_and_status_by_invoice_id(sandbox, client):
    order_id = new_order()
    created = charge(client, order_id, amount_fils=7000, src="create-invoice", notification_type="link",
                     customer=Customer(name="Ali", email="ali@example.com"))
    assert created.invoice_id and created.link.startswith("http")
    assert created.sms_sent is False and created.email_sent is False  # sandbox never sends (§14)
    sandbox.complete(invoice_id=created.invoice_id, method="knet", outcome="captured")
    tx = client.payments.status(invoice_id=created.invoice_id)
    assert tx.result == "CAPTURED" and tx.merchant_order_id == order_id and tx.amount_fils == 7000


def paid_payment(sandbox, c: UPaymentsClient, amount_fils: int = 10000):
    created = charge(c, new_order(), amount_fils=amount_fils)
    done = sandbox.complete(session_id=created.session_id, method="knet", outcome="captured")
    return c.payments.status(track_id=done["track_id"])


def test_refund_create_check_delete(sandbox, client):
    sandbox.configure(refund_delay_seconds=3600)
    tx = paid_payment(sandbox, client)
    first = client.refunds.create(order_id=tx.upay_order_id, amount_fils=2500, reference="rf-1")
    second = client.refunds.create(order_id=tx.upay_order_id, amount_fils=1000)
    assert first.refund_order_id and first.order_id and first.refund_arn
    assert first.refund_order_id != second.refund_order_id
    items = client.refunds.check(order_id=tx.upay_order_id)
    assert {i.order_id for i in items} >= {first.order_id, second.order_id}
    assert all(i.is_refunded is False and i.refunded_at is None for i in items)

    client.refunds.delete(order_id=second.order_id, refund_order_id=second.refund_order_id)
    remaining = client.refunds.check(order_id=tx.upay_order_id)
    assert second.order_id not in {i.order_id for i in remaining}
    legacy = client.refunds.check_status(order_id=tx.upay_order_id)
    assert legacy.is_refunded is False


def test_refund_becomes_refunded_after_the_delay(sandbox, client):
    sandbox.configure(refund_delay_seconds=0)
    tx = paid_payment(sandbox, client)
    created = client.refunds.create(order_id=tx.upay_order_id, amount_fils=10000)
    items = client.refunds.check(order_id=tx.upay_order_id)
    done = [i for i in items if i.order_id == created.order_id]
    assert done and done[0].is_refunded is True and done[0].refunded_at is not None
    assert client.refunds.check_status(order_id=tx.upay_order_id).is_refunded is True
    with pytest.raises(errors.BusinessRefusal, match="already processed"):  # executed: no longer deletable
        client.refunds.delete(order_id=created.order_id, refund_order_id=created.refund_order_id)


def test_refund_refusals(sandbox, client):
    tx = paid_payment(sandbox, client, amount_fils=3000)
    with pytest.raises(errors.BusinessRefusal, match="refundable amount"):
        client.refunds.create(order_id=tx.upay_order_id, amount_fils=3001)  # more than was paid
    with pytest.raises(errors.BusinessRefusal) as refused:
        client.refunds.create(order_id=tx.merchant_order_id, amount_fils=100)  # §16 A5: our id is not theirs
    assert f"order_id={tx.merchant_order_id}" in str(refused.value)
    sandbox.configure(merchant_balance_fils=0)
    with pytest.raises(errors.BusinessRefusal) as info:
        client.refunds.create(order_id=tx.upay_order_id, amount_fils=100)
    assert "create-refund" in str(info.value) and tx.upay_order_id in str(info.value)


def test_account_and_deposit(sandbox, client, wl_client):
    buttons = client.account.button_status()
    assert buttons.knet is True and buttons.is_white_label is False
    assert wl_client.account.button_status().is_white_label is True
    assert client.account.check_api_key(TOKEN) is True
    assert client.account.check_api_key("not-a-key") is False
    tx = paid_payment(sandbox, client)
    deposit = client.deposits.status(track_id=tx.track_id)  # sandbox rule: deposited next working day
    assert deposit.deposited is False and deposit.deposited_at is None and deposit.invoice_url is None
    with pytest.raises(errors.NotFound):
        client.deposits.status(track_id="UNKNOWN-TRACK")


def test_wrong_token_is_authentication_error(sandbox):
    bad = UPaymentsClient(sandbox.api_base, "wrong-token-123", timeout=2.0)
    with bad, pytest.raises(errors.AuthenticationError) as info:
        bad.account.button_status()
    assert info.value.status_code == 401
    assert "wrong-token-123" not in str(info.value)


def test_validation_failure_has_field_errors(sandbox, client):
    with pytest.raises(errors.ValidationFailed) as info:
        charge(client, new_order(), description="x" * 501)  # §18 F1: a missing description is accepted
    assert "order.description" in info.value.errors
    assert info.value.status_code == 422 and not is_uncertain(info.value)


def test_unknown_track_id(sandbox, client):
    with pytest.raises(errors.NotFound) as info:
        client.payments.status(track_id="NOPE" * 8)
    assert "track_id=" + "NOPE" * 8 in str(info.value)
    with pytest.raises(errors.NotFound):
        client.refunds.check(order_id="NO-SUCH-ORDER")


# ------------------------------------------------------------------ faults


def test_latency_within_timeout_succeeds(sandbox, client):
    sandbox.set_faults(latency_ms=300)
    started = time.monotonic()
    assert client.account.button_status().knet is True
    assert time.monotonic() - started >= 0.3


def test_hang_beyond_timeout_is_gateway_timeout_quickly(sandbox, caplog):
    """Each attempt ends at the client's timeout (a ReadTimeout, not the 5 s hang's late answer); a POST is tried
    once, a GET up to max_retries more times."""
    caplog.set_level(logging.INFO, logger="services.gateway")
    sandbox.set_faults(hang_seconds=5)
    with (UPaymentsClient(sandbox.api_base, TOKEN, timeout=0.5, connect_timeout=0.5, max_retries=0) as c,
          pytest.raises(errors.GatewayTimeout) as info):
        charge(c, new_order())
    assert calls_logged(caplog, "upayments POST charge -> ReadTimeout") == 1
    assert calls_logged(caplog, "upayments POST charge ->") == 1
    assert is_uncertain(info.value)  # the charge may have been created: settle by asking, never resend
    with (UPaymentsClient(sandbox.api_base, TOKEN, timeout=0.5, max_retries=2, backoff_base=0.01) as c,
          pytest.raises(errors.GatewayTimeout)):
        c.account.button_status()
    assert calls_logged(caplog, "upayments GET check-payment-button-status -> ReadTimeout") == 3  # 3 attempts
    assert calls_logged(caplog, "upayments GET check-payment-button-status ->") == 3  # none answered late


def calls_logged(caplog, line: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(line))


def test_server_errors_get_retried_post_not(sandbox, client, caplog):
    caplog.set_level(logging.INFO, logger="services.gateway")
    sandbox.set_faults(error_rate=1.0, count=1)  # the next request fails, later ones succeed
    assert client.account.button_status().knet is True  # GET retried past the failure
    assert calls_logged(caplog, "upayments GET check-payment-button-status -> 500") == 1
    assert calls_logged(caplog, "upayments GET check-payment-button-status -> 201") == 1

    sandbox.set_faults(error_rate=1.0)
    with pytest.raises(errors.ServerError) as info:
        charge(client, new_order())  # POST: the failure reaches the caller at once
    assert is_uncertain(info.value)
    assert calls_logged(caplog, "upayments POST charge -> 500") == 1
    with pytest.raises(errors.ServerError):
        client.refunds.delete(order_id="R", refund_order_id="RO")
    assert calls_logged(caplog, "upayments POST delete-refund -> 500") == 1

    with pytest.raises(errors.ServerError):
        client.refunds.check(order_id="X")  # GET gives up after max_retries (2): three attempts
    assert calls_logged(caplog, "upayments GET check-refund/X -> 500") == 3
    sandbox.clear_faults()
    assert charge(client, new_order()).link


def test_rate_limit_retry_after_is_honoured_for_get(sandbox, client, caplog):
    caplog.set_level(logging.INFO, logger="services.gateway")
    sandbox.set_faults(rate_limit=True, retry_after=1, count=1)
    assert client.account.button_status().knet is True
    assert calls_logged(caplog, "upayments GET check-payment-button-status retry 1 in 1.00 s after RateLimited") == 1


def test_rate_limit_fault(sandbox):
    sandbox.set_faults(rate_limit=True)
    c = UPaymentsClient(sandbox.api_base, TOKEN, max_retries=0)
    with c, pytest.raises(errors.RateLimited) as info:
        c.account.button_status()
    assert info.value.status_code == 429 and info.value.retry_after is not None


@pytest.mark.parametrize(
    ("fault", "hint", "uncertain"),
    [({"malformed_json": True}, "truncated or malformed JSON", True),
     ({"non_json": True}, "not whitelisted", False),  # 403 HTML page: the IP-whitelist block (§1.2)
     ({"non_json": 200}, "not whitelisted", True)],
)
def test_bad_bodies_are_invalid_response(sandbox, client, fault, hint, uncertain):
    sandbox.set_faults(**fault)
    with pytest.raises(errors.InvalidResponse) as info:
        client.account.button_status()
    assert hint in str(info.value)
    with pytest.raises(errors.InvalidResponse) as info:
        charge(client, new_order())
    assert is_uncertain(info.value) is uncertain


def test_our_limiter_keeps_status_calls_under_the_gateway_limit(sandbox, client):
    sandbox.configure(status_limit_per_minute=4)
    tx = paid_payment(sandbox, client)
    with UPaymentsClient(sandbox.api_base, TOKEN, status_rate_per_minute=3, limiter_timeout=0.2) as ours:
        for _ in range(3):
            ours.payments.status(track_id=tx.track_id)
        with pytest.raises(errors.RateLimited) as info:  # refused locally, nothing sent
            ours.payments.status(track_id=tx.track_id)
        assert info.value.retry_after is not None and info.value.retry_after > 50
    # a client without our limit runs into the gateway's 429
    greedy = UPaymentsClient(sandbox.api_base, TOKEN, status_rate_per_minute=100, max_retries=0)
    with greedy, pytest.raises(errors.RateLimited) as info:
        for _ in range(3):
            greedy.payments.status(track_id=tx.track_id)
    assert info.value.retry_after is not None and info.value.retry_after > 0


def test_token_never_logged(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with UPaymentsClient(sandbox.api_base, TOKEN, timeout=2.0) as c:
        created = charge(c, new_order())
        done = sandbox.complete(session_id=created.session_id, method="knet", outcome="captured")
        c.payments.status(track_id=done["track_id"])
        assert TOKEN not in repr(c)
    assert "upayments POST charge -> 201" in caplog.text
    assert TOKEN not in caplog.text
