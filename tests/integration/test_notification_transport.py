"""§18 F5/F6: notifications by GET or with their fields only in the query string are stored and verified, and the
redirect's numeric invoice id is never sent to get-payment-status (the sandbox refuses it, as live does)."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from services import sync
from services.gateway import errors, parse_redirect
from tests.integration import test_sync as support
from tests.integration.test_sync import charge, events, row

receiver = support.receiver  # the fixture: routes under uvicorn beside a sandbox

CLOSED_URL = "http://127.0.0.1:9/webhooks/upayments"


def _fields(redirect_url: str) -> dict[str, str]:
    return {k: v for k, v in parse_redirect(redirect_url).raw.items() if isinstance(v, str)}


def test_a_get_notification_is_stored_with_its_transport_and_verified(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    answer = httpx.get(receiver.webhook_url, params=_fields(done["redirect_url"]), timeout=10)  # OpenCart-style
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert (event.transport, event.body, event.error, event.payment_pk) == ("get-query", "", None, payment.id)
    assert event.query and "track_id=" in event.query
    paid = row(receiver.engine, payment.id)
    assert (paid.status, paid.track_id, paid.webhook_received) == ("paid", done["track_id"], True)


def test_a_post_with_the_fields_only_in_the_query_string_is_stored_and_verified(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment, method="cc")
    query = urlencode({"shop": "7", **_fields(done["redirect_url"])})  # the merchant's own key comes along
    answer = httpx.post(f"{receiver.webhook_url}?{query}", content=b"", timeout=10)
    assert answer.status_code == 200
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert (event.transport, event.error, event.payment_pk) == ("post-query", None, payment.id)
    assert row(receiver.engine, payment.id).status == "paid"


def test_query_and_body_together_and_the_usual_refusals(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    fields = _fields(done["redirect_url"])
    track = fields.pop("track_id")
    # half in the query (as a notificationUrl's own query), half in a form body: read together
    answer = httpx.post(f"{receiver.webhook_url}?track_id={track}", content=urlencode(fields).encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code == 200
    assert sync.wait_idle(10)
    assert row(receiver.engine, payment.id).status == "paid"
    assert httpx.get(f"{receiver.webhook_url}?pad={'x' * 4096}", timeout=10).status_code == 413  # limit 2048
    poison = httpx.get(f"{receiver.webhook_url}?track_id=%3Cscript%3E", timeout=10)
    assert poison.status_code == 400  # stored closed with its reason, never queued
    stored = events(receiver.engine)
    assert [e.transport for e in stored] == ["post-form", "get-query"]
    assert stored[1].unusable_reason is not None and stored[1].processed_at is not None


def test_the_redirects_numeric_invoice_id_is_refused_by_the_sandbox_and_never_sent(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    fields = _fields(done["redirect_url"])
    assert fields["invoice_id"].isdigit()
    with pytest.raises(errors.NotFound):  # like live: get-payment-status?invoice_id= wants the opaque id
        receiver.client.payments.status(invoice_id=fields["invoice_id"])
    # a delivery without a track id: its numeric invoice id only names our payment; we ask by its session id
    del fields["track_id"]
    answer = httpx.post(receiver.webhook_url, content=urlencode(fields).encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code == 200
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert event.error is None and row(receiver.engine, payment.id).status == "paid"
    receiver.sandbox.configure(conveniences=["numeric_invoice_lookup"])  # the named convenience, switched on
    assert receiver.client.payments.status(invoice_id=fields["invoice_id"]).track_id == done["track_id"]
