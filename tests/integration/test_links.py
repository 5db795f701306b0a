"""Payment links against the real sandbox over loopback HTTP, with the dashboard's own routes (webhook + landing
pages) served by uvicorn on a free port — the gateway's webhooks and redirects reach them for real."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from dashboard import routes as desk_routes
from dashboard import runtime
from dashboard.settings import Settings, load_settings
from sandbox.server import RunningSandbox
from services import audit, sync
from services.db import sqlite_url
from services.gateway import UPaymentsClient, factory
from services.links import LinkOutcome, LinkRequest, create_link, new_idempotency_key
from services.links.follow import check_link, link_detail, list_links
from services.models import AuditEntry, Payment, WebhookEvent
from services.permissions import Actor, Role
from tests.factories import make_staff

TOKEN = "jtest123"  # the public non-white-label sandbox key (contract §1.2)


@dataclass
class Desk:
    url: str  # public URL of the dashboard's routes, ending in "/"
    engine: Engine
    settings: Settings
    client: UPaymentsClient
    sandbox: RunningSandbox
    sales: Actor


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def desk(tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """The dashboard's HTTP routes (webhook, /pay/return, /pay/cancel) on a free port, wired to the sandbox."""
    port = _free_port()
    public = f"http://127.0.0.1:{port}/"
    for name, value in {"DATABASE_URL": sqlite_url(tmp_path / "desk.db"), "ENVIRONMENT": "sandbox",
                        "GATEWAY_URL": sandbox.api_base, "GATEWAY_TOKEN": TOKEN, "PUBLIC_URL": public,
                        "GATEWAY_TIMEOUT_SECONDS": "5", "STATUS_RATE_PER_MINUTE": "600"}.items():
        monkeypatch.setenv(f"SOUQ_{name}", value)
    runtime.reset()
    settings = load_settings()
    engine = runtime.engine()
    client = factory.shared_client(settings)
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=desk_routes.routes()), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name="desk")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "dashboard routes did not start"
        time.sleep(0.01)
    try:
        yield Desk(public, engine, settings, client, sandbox, make_staff(engine, Role.SALES, "sara@shop.test"))
    finally:
        sync.wait_idle(10)
        server.should_exit = True
        thread.join(10)
        runtime.reset()


def _request(**kw: Any) -> LinkRequest:
    base: dict[str, Any] = {"idempotency_key": new_idempotency_key(), "amount": "12.5",
                            "description": "Blue abaya", "customer_name": "Sara", "customer_phone": "٥٥١٢٣٤٥٦"}
    base.update(kw)
    return LinkRequest(**base)


def _charges_at_sandbox(sandbox: RunningSandbox, order_id: str) -> int:
    """How many charges the sandbox stored for our order id (its own database, read-only)."""
    uri = f"file:{Path(sandbox.config.db_path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM payment WHERE merchant_order_id = ?", (order_id,)).fetchone()[0])


def _payment(engine: Engine, pk: int) -> Payment:
    with Session(engine) as session:
        found = session.get(Payment, pk)
    assert found is not None
    return found


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _invoice_session(desk: Desk, outcome: LinkOutcome) -> dict[str, Any]:
    record: dict[str, Any] = desk.sandbox.payment(outcome.order_id)["payment"]
    return record


def test_create_link_gives_a_working_gateway_link(desk: Desk) -> None:
    outcome = create_link(desk.engine, desk.client, desk.sales, request=_request(language="ar", expiry_minutes=60),
                          settings_like=desk.settings)
    assert outcome.state == "active" and outcome.created and outcome.link_url
    assert outcome.link_url.startswith(desk.sandbox.url)
    page = httpx.get(outcome.link_url, timeout=5, follow_redirects=True)
    assert page.status_code == 200
    stored = _invoice_session(desk, outcome)
    assert stored["amount_fils"] == 12_500 and stored["currency"] == "KWD" and stored["language"] == "ar"
    assert stored["customer"]["mobile"] == "+96555123456"
    row = _payment(desk.engine, outcome.payment_pk)
    assert row.link_state == "active" and row.invoice_id and row.source == "link" and row.status == "pending"
    assert row.created_by == "sara@shop.test" and row.customer_phone == "+96555123456"
    with Session(desk.engine) as session:
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq))).all()
    assert list(actions)[-2:] == ["link_created", "link_active"]
    assert audit.verify(desk.engine).ok
    assert [r.order_id for r in list_links(desk.engine, desk.sales).rows] == [outcome.order_id]


def test_double_submit_creates_one_gateway_charge(desk: Desk) -> None:
    request = _request()
    outcomes: list[LinkOutcome] = []

    def submit() -> None:
        outcomes.append(create_link(desk.engine, desk.client, desk.sales, request=request,
                                    settings_like=desk.settings))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    submit()  # and a rerun afterwards
    assert len(outcomes) == 5
    assert {o.payment_pk for o in outcomes} == {outcomes[0].payment_pk}
    assert {o.link_url for o in outcomes} == {outcomes[0].link_url} and outcomes[0].link_url
    assert sum(o.created for o in outcomes) == 1
    assert _charges_at_sandbox(desk.sandbox, outcomes[0].order_id) == 1
    with Session(desk.engine) as session:
        assert len(session.exec(select(Payment).where(col(Payment.source) == "link")).all()) == 1


def test_a_timeout_after_sending_is_uncertain_and_never_sent_again(desk: Desk) -> None:
    desk.sandbox.set_faults(hang_seconds=1.0, paths=["/api/v1/charge"], count=1)
    impatient = UPaymentsClient(desk.sandbox.api_base, TOKEN, timeout=0.3, connect_timeout=0.3, max_retries=0)
    request = _request()
    first = create_link(desk.engine, impatient, desk.sales, request=request, settings_like=desk.settings)
    assert first.state == "uncertain" and first.link_url is None
    assert "Check again" in first.message
    time.sleep(1.2)  # let the sandbox finish with the abandoned request
    for _ in range(3):  # reruns and double clicks with the same form
        again = create_link(desk.engine, desk.client, desk.sales, request=request, settings_like=desk.settings)
        assert again.state == "uncertain" and not again.created and again.payment_pk == first.payment_pk
    assert "Still unknown" in check_link(desk.engine, desk.client, desk.sales, payment_pk=first.payment_pk)
    assert _charges_at_sandbox(desk.sandbox, first.order_id) <= 1  # never a second charge
    assert list_links(desk.engine, desk.sales, status="uncertain").total == 1


def test_a_lost_answer_after_the_charge_is_bound_later_by_the_gateway_webhook(desk: Desk) -> None:
    # the sandbox runs the charge, then answers with half of its JSON: the link exists but we never saw it
    desk.sandbox.set_faults(malformed_json=True, paths=["/api/v1/charge"], count=1)
    request = _request()
    first = create_link(desk.engine, desk.client, desk.sales, request=request, settings_like=desk.settings)
    assert first.state == "uncertain" and first.link_url is None
    assert _charges_at_sandbox(desk.sandbox, first.order_id) == 1
    again = create_link(desk.engine, desk.client, desk.sales, request=request, settings_like=desk.settings)
    assert again.state == "uncertain" and not again.created
    assert "Still unknown" in check_link(desk.engine, desk.client, desk.sales, payment_pk=first.payment_pk)
    assert _charges_at_sandbox(desk.sandbox, first.order_id) == 1  # never a second charge
    # the customer pays the link anyway: the gateway's webhook carries our order id and binds it
    desk.sandbox.complete(session_id=_invoice_session(desk, first)["session_id"], method="knet", wait_webhook=True)
    assert sync.wait_idle(10)
    _wait(lambda: _payment(desk.engine, first.payment_pk).status == "paid")
    assert check_link(desk.engine, desk.client, desk.sales, payment_pk=first.payment_pk) == "Checked: paid."
    row = _payment(desk.engine, first.payment_pk)
    assert row.link_state == "active" and row.webhook_received and row.method == "knet"
    assert _charges_at_sandbox(desk.sandbox, first.order_id) == 1


def test_a_gateway_validation_refusal_is_recorded_as_rejected_with_its_reason(desk: Desk) -> None:
    broken = desk.settings.model_copy(update={"public_url": "ftp://shop.test/"})  # a misconfigured public URL
    outcome = create_link(desk.engine, desk.client, desk.sales, request=_request(), settings_like=broken)
    assert outcome.state == "rejected" and outcome.link_url is None
    assert re.search(r"returnUrl must be a valid URL", outcome.message), outcome.message
    detail = link_detail(desk.engine, desk.sales, payment_pk=outcome.payment_pk)
    assert detail.row.status == "rejected" and detail.reason and "returnUrl" in detail.reason
    assert _charges_at_sandbox(desk.sandbox, outcome.order_id) == 0


def test_the_landing_page_with_the_quirk_url_verifies_and_thanks_the_customer(desk: Desk) -> None:
    outcome = create_link(desk.engine, desk.client, desk.sales, request=_request(), settings_like=desk.settings)
    assert outcome.state == "active"
    desk.sandbox.configure(redirect_quirk=True)
    done = desk.sandbox.complete(session_id=_invoice_session(desk, outcome)["session_id"], method="knet",
                                 wait_webhook=False)
    redirect = done["redirect_url"]
    assert redirect.startswith(f"{desk.url}pay/return?o={outcome.order_id}?payment_id=")  # the §9.3 quirk
    page = httpx.get(redirect, timeout=10)
    assert page.status_code == 200
    assert (f"Thank you, your payment of <bdi>12.500 KWD</bdi> to <bdi>{desk.settings.shop_name}</bdi> is "
            "confirmed.") in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    row = _payment(desk.engine, outcome.payment_pk)
    assert row.status == "paid" and row.verified_at is not None and row.track_id == done["track_id"]
    with Session(desk.engine) as session:
        redirects = session.exec(select(WebhookEvent).where(col(WebhookEvent.source) == "redirect")).all()
    assert len(redirects) == 1 and "?payment_id=" in redirects[0].body
    assert redirects[0].order_id == outcome.order_id
    again = httpx.get(f"{desk.url}pay/return?o={outcome.order_id}&n=1", timeout=10)
    assert "is confirmed" in again.text  # a reload shows the same verified answer and stores nothing new
    with Session(desk.engine) as session:
        assert len(session.exec(select(WebhookEvent).where(col(WebhookEvent.source) == "redirect")).all()) == 1


def test_a_forged_success_url_is_not_believed(desk: Desk) -> None:
    outcome = create_link(desk.engine, desk.client, desk.sales, request=_request(), settings_like=desk.settings)
    forged = (f"{desk.url}pay/return?o={outcome.order_id}?payment_id=1&result=CAPTURED&track_id=FAKE123"
              f"&order_id={outcome.order_id}")
    page = httpx.get(forged, timeout=10)
    assert page.status_code == 200
    assert "We are confirming your payment" in page.text and "is confirmed" not in page.text
    assert 'http-equiv="refresh"' in page.text
    assert _payment(desk.engine, outcome.payment_pk).status == "pending"


def test_a_declined_payment_lands_on_the_cancel_page_with_try_again_in_arabic(desk: Desk) -> None:
    outcome = create_link(desk.engine, desk.client, desk.sales, request=_request(language="ar"),
                          settings_like=desk.settings)
    done = desk.sandbox.complete(session_id=_invoice_session(desk, outcome)["session_id"], method="knet",
                                 outcome="declined", wait_webhook=False)
    assert done["redirect_url"].startswith(f"{desk.url}pay/cancel?o={outcome.order_id}")
    page = httpx.get(done["redirect_url"], timeout=10)
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    assert "لم تتم عملية الدفع — حاولوا مرة أخرى." in page.text
    assert f'href="{outcome.link_url}"' in page.text
    assert _payment(desk.engine, outcome.payment_pk).status == "failed"


def test_landing_limits_and_unknown_orders(desk: Desk) -> None:
    assert httpx.get(f"{desk.url}pay/return?o=" + "x" * 5000, timeout=5).status_code == 414
    unknown = httpx.get(f"{desk.url}pay/return?o=SD-000000-NOSUCHLINK", timeout=5)
    assert unknown.status_code == 404 and "could not find" in unknown.text
    assert httpx.post(f"{desk.url}pay/return?o=x", timeout=5).status_code == 405
    script = httpx.get(f"{desk.url}pay/cancel?o=<script>", timeout=5)
    assert "<script>" not in script.text
