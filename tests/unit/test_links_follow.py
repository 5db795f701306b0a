"""Following links: list filters and statuses, mine-only for sales, detail timeline, roles × actions, landing HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from dashboard.customer_pages import render
from services.links import LinkRequest, create_link
from services.links.follow import check_link, display_status, link_detail, list_links, refresh_awaiting
from services.links.landing import Landing
from services.links.share import record_share
from services.models import Payment, PaymentEvent
from services.permissions import PermissionDenied, Role
from services.timeutil import utcnow
from tests.factories import make_payment, make_staff

LINK = "https://sandbox.test/invoice/x"


@dataclass
class FakeSettings:
    public_url: str = "https://shop.test/"
    link_expiry_minutes: int = 60


def _link(engine, order_id: str, *, by: str | None = "sara@shop.test", status: str = "pending", **kw: Any) -> Payment:
    fields: dict[str, Any] = dict(source="link", link_state="active", link_url=LINK, created_by=by, method=None,
                                  expires_at=utcnow() + timedelta(hours=1))
    fields.update(kw)
    return make_payment(engine, order_id=order_id, status=status, **fields)


@pytest.fixture
def engine(engine):
    now = utcnow()
    _link(engine, "A-AWAIT", created_at=now - timedelta(minutes=1))
    _link(engine, "A-PAID", status="paid", created_at=now - timedelta(minutes=2))
    _link(engine, "A-LATE", expires_at=now - timedelta(minutes=1), created_at=now - timedelta(minutes=3))
    _link(engine, "A-UNSURE", link_state="uncertain", link_url=None, created_at=now - timedelta(minutes=4))
    _link(engine, "A-BOUND", link_state="uncertain", link_url=None, verified_at=now,
          created_at=now - timedelta(minutes=5))
    _link(engine, "A-REFUSED", link_state="rejected", link_url=None, created_at=now - timedelta(minutes=6))
    _link(engine, "B-FAILED", by="omar@shop.test", status="failed", created_at=now - timedelta(minutes=7))
    make_payment(engine, order_id="GW-1", status="pending")  # not a link: never listed
    return engine


def test_statuses_in_sql_match_the_display_rule(engine) -> None:
    admin = make_staff(engine, Role.ADMIN)
    expected = {"awaiting": {"A-AWAIT", "A-BOUND"}, "paid": {"A-PAID"}, "expired": {"A-LATE"},
                "uncertain": {"A-UNSURE"}, "rejected": {"A-REFUSED"}, "failed": {"B-FAILED"}, "cancelled": set()}
    for status, orders in expected.items():
        page = list_links(engine, admin, status=status, mine_only=False)
        assert {r.order_id for r in page.rows} == orders, status
        assert all(r.status == status for r in page.rows)
    every = list_links(engine, admin, mine_only=False)
    assert every.total == 7 and every.rows[0].order_id == "A-AWAIT"  # newest first
    with Session(engine) as session:
        for row in every.rows:
            payment = session.get(Payment, row.pk)
            assert payment is not None and display_status(payment) == row.status


def test_sales_see_their_own_by_default_others_see_all(engine) -> None:
    sales = make_staff(engine, Role.SALES, "sara@shop.test")
    finance = make_staff(engine, Role.FINANCE)
    mine = list_links(engine, sales)
    assert mine.total == 6 and {r.created_by for r in mine.rows} == {"sara@shop.test"}
    assert list_links(engine, sales, mine_only=False).total == 7
    assert list_links(engine, finance).total == 7
    only_omar = list_links(engine, finance, created_by="Omar@shop.test")
    assert [r.order_id for r in only_omar.rows] == ["B-FAILED"]
    paged = list_links(engine, finance, page=2, page_size=3)
    assert paged.total == 7 and len(paged.rows) == 3


@pytest.mark.parametrize("role", list(Role))
def test_role_by_action_at_the_service(engine, role: Role, dead_client) -> None:
    actor = make_staff(engine, role)
    may_create = role in (Role.ADMIN, Role.FINANCE, Role.SALES)
    with Session(engine) as session:
        pk = session.get(Payment, 1).id  # type: ignore[union-attr]
    assert pk is not None
    request = LinkRequest(idempotency_key="261124-role-test-key-1", amount="1", description="x")
    if may_create:
        record_share(engine, actor, payment_pk=pk, channel="copy")
    else:
        with pytest.raises(PermissionDenied):
            create_link(engine, dead_client, actor, request=request, settings_like=FakeSettings())
        with pytest.raises(PermissionDenied):
            record_share(engine, actor, payment_pk=pk, channel="whatsapp")
        with pytest.raises(PermissionDenied):
            check_link(engine, dead_client, actor, payment_pk=pk)
        assert refresh_awaiting(engine, dead_client, actor, payment_pks=[pk]) == 0  # viewers never poll
    assert list_links(engine, actor, mine_only=False).total == 7  # every role may look


def test_detail_has_gateway_fields_and_a_timeline_with_opened(engine) -> None:
    sales = make_staff(engine, Role.SALES, "sara@shop.test")
    payment = _link(engine, "D-1", track_id="TRK1", invoice_id="INV1", customer_phone="+96555123456")
    assert payment.id is not None
    with Session(engine) as session:
        now = utcnow()
        for kind, info, at in (("created", {}, now - timedelta(seconds=30)),
                               ("status", {"to": "paid", "track_id": "TRK1"}, now)):
            session.add(PaymentEvent(payment_pk=payment.id, kind=kind, actor=None, detail=json.dumps(info), at=at))
        session.commit()
    record_share(engine, sales, payment_pk=payment.id, channel="whatsapp")
    detail = link_detail(engine, sales, payment_pk=payment.id)
    assert detail.gateway["track_id"] == "TRK1" and detail.gateway["invoice_id"] == "INV1"
    kinds = [e.kind for e in detail.timeline]
    assert kinds[0] == "created" and "opened" in kinds and "shared" in kinds
    assert any(e.label == "Status: Paid" for e in detail.timeline)
    assert any(e.label == "Shared (whatsapp)" for e in detail.timeline)


def test_a_rejected_link_shows_why(engine) -> None:
    admin = make_staff(engine, Role.ADMIN)
    refused = _link(engine, "R-1", link_state="rejected", link_url=None)
    with Session(engine) as session:
        session.add(PaymentEvent(payment_pk=refused.id or 0, kind="link_rejected",
                                 detail=json.dumps({"reason": "The returnUrl must be a valid URL."})))
        session.commit()
    detail = link_detail(engine, admin, payment_pk=refused.id or 0)
    assert detail.row.status == "rejected" and detail.reason == "The returnUrl must be a valid URL."


def test_landing_html_escapes_everything_and_speaks_arabic() -> None:
    evil = Landing("failed", order_id="SD-1", language="ar", amount_fils=12_500, currency="KWD",
                   retry_url='https://x.test/"><script>alert(1)</script>')
    page, code = render(evil, shop_name="Shop", shop_name_ar="<b>متجر</b>", path="/pay/cancel")
    assert code == 200 and "<script>" not in page and "&lt;b&gt;متجر&lt;/b&gt;" in page
    assert 'dir="rtl"' in page and "لم تتم عملية الدفع" in page
    paid, _ = render(Landing("paid", order_id="SD-1", amount_fils=12_500), shop_name="Souq", shop_name_ar="",
                     path="/pay/return")
    assert "Thank you, your payment of <bdi>12.500 KWD</bdi> to <bdi>Souq</bdi> is confirmed." in paid
    pending, _ = render(Landing("pending", order_id="SD-1", refresh=True), shop_name="S", shop_name_ar="",
                        path="/pay/return", attempt=2)
    assert 'http-equiv="refresh" content="3;url=/pay/return?o=SD-1&amp;n=3"' in pending
    unknown, code = render(Landing("unknown"), shop_name="S", shop_name_ar="", path="/pay/return")
    assert code == 404 and "could not find" in unknown


def test_link_creators_are_every_distinct_creator_of_a_link_sorted(engine) -> None:
    """The loose index scan finds each creator once, in order, and skips non-link payments and empty creators."""
    from services.links import link_creators

    admin = make_staff(engine, Role.ADMIN)
    _link(engine, "C-1", by="aisha@shop.test")
    _link(engine, "C-2", by="zaid@shop.test")
    _link(engine, "C-3", by="aisha@shop.test")
    _link(engine, "C-4", by=None)
    _link(engine, "C-5", by="")
    make_payment(engine, order_id="GW-2", created_by="mona@shop.test")  # made by staff, but not a link
    assert link_creators(engine, admin) == ["aisha@shop.test", "omar@shop.test", "sara@shop.test", "zaid@shop.test"]
