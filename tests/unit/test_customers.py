"""Customers: token derivation and masking (properties), the trigger-kept summary, the list, search and profile,
and the service-layer refusal of contact reveals for viewers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services import customers
from services.customers import CustomerQueryError, UnknownCustomer
from services.gateway.cards import TOKEN_PATTERN
from services.models import CustomerSummary, Payment
from services.permissions import PermissionDenied, Role
from services.privacy import mask_email, mask_phone, shield
from services.search import SearchFilter, search
from tests.factories import make_db, make_payment, make_staff

ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _valid(local: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+965" + local))


kuwaiti_mobiles = st.from_regex(r"\A[569][0-9]{7}\Z").filter(_valid)


@given(st.text(min_size=1, max_size=270))
def test_token_is_8_to_18_digits_never_a_leading_zero_and_deterministic(key: str) -> None:
    token = customers.unique_token(key)
    assert TOKEN_PATTERN.match(token) and token[0] != "0" and 8 <= len(token) <= 18
    assert customers.unique_token(key) == token


@given(kuwaiti_mobiles)
def test_every_way_of_typing_one_number_gives_one_customer_and_one_token(local: str) -> None:
    forms = [local, f"+965 {local[:4]} {local[4:]}", f"00965{local}", f"965-{local}", local.translate(ARABIC),
             f"\u200f+965 {local}"]
    keys = {customers.parse_key(form) for form in forms}
    assert keys == {f"+965{local}"}
    assert len({customers.unique_token(k) for k in keys}) == 1


@given(kuwaiti_mobiles)
def test_masked_phone_keeps_only_the_country_code_and_last_four(local: str) -> None:
    shown = mask_phone(f"+965{local}")
    assert shown == f"+965 ••••  {local[-4:]}"
    assert re.sub(r"\D", "", shown) == "965" + local[-4:]  # no other digit of the number survives


@given(st.from_regex(r"\A[a-z0-9._]{2,20}@[a-z0-9]{2,15}\.(com|kw|net)\Z"))
def test_masked_email_hides_the_local_part_and_the_host(email: str) -> None:
    local, _, domain = email.partition("@")
    host, _, tld = domain.rpartition(".")
    shown = mask_email(email)
    # exactly the first letter of each part and the top-level domain survive (a substring check alone failed on
    # "co@0.com", where "co" is also in ".com")
    assert shown == f"{local[0]}•••@{host[0]}•••.{tld}"


def test_the_example_from_the_issue() -> None:
    assert mask_phone("+96550003456") == "+965 ••••  3456"


def _sara_and_noura(engine: Engine, *, noura_fils: int) -> tuple[CustomerSummary | None, CustomerSummary | None]:
    """Sara pays twice (the first after pending, then 1.500 refunded), Noura once by e-mail: both summaries."""
    a = make_payment(engine, customer_phone="+96550001111", customer_name="Sara", amount_fils=5_000, status="pending")
    make_payment(engine, customer_phone="+96550001111", amount_fils=2_000, method="card")
    make_payment(engine, customer_email="Noura@Example.com", customer_phone=None, amount_fils=noura_fils)
    with Session(engine) as session:
        payment = session.get(Payment, a.id)
        assert payment is not None
        payment.status, payment.refunded_fils = "paid", 1_500
        session.add(payment)
        session.commit()
        return session.get(CustomerSummary, "+96550001111"), session.get(CustomerSummary, "email:noura@example.com")


def test_summary_follows_inserts_status_changes_and_refunds(tmp_path: Path) -> None:
    engine = make_db(tmp_path)
    sara, noura = _sara_and_noura(engine, noura_fils=1_000)
    assert sara is not None and noura is not None
    assert (sara.n_payments, sara.n_paid, sara.captured_fils, sara.refunded_fils, sara.net_fils, sara.name) == (
        2, 2, 7_000, 1_500, 5_500, "Sara")
    assert (noura.n_paid, noura.captured_fils) == (1, 1_000)
    moved = make_payment(engine, customer_phone="+96550002222", amount_fils=500)  # typed wrong, then corrected
    with Session(engine) as session:
        payment = session.get(Payment, moved.id)
        assert payment is not None and session.get(CustomerSummary, "+96550002222") is not None
        payment.customer_phone = "+96550001111"
        session.add(payment)
        session.commit()
        assert session.get(CustomerSummary, "+96550002222") is None  # no payments left: no customer row
        sara = session.get(CustomerSummary, "+96550001111")
        assert sara is not None and (sara.n_payments, sara.captured_fils) == (3, 7_500)


def test_list_search_profile_and_masking_by_role(tmp_path: Path) -> None:
    engine = make_db(tmp_path)
    viewer, sales = make_staff(engine, Role.VIEWER), make_staff(engine, Role.SALES)
    make_payment(engine, customer_phone="+96550001111", customer_name="Sara", amount_fils=5_000, method="knet")
    make_payment(engine, customer_phone="+96550001111", customer_name="Sara", amount_fils=3_000, method="knet")
    make_payment(engine, customer_phone="+96560002222", customer_name="Hamad", amount_fils=9_000, method="card")
    by_value = customers.list_customers(engine, sales, sort="lifetime_value")
    assert [r.key for r in by_value.rows] == ["+96560002222", "+96550001111"] and by_value.total == 2
    assert next(r.key for r in customers.list_customers(engine, sales, sort="purchases").rows) == "+96550001111"
    assert [r.key for r in customers.list_customers(engine, sales, page=2, page_size=1).rows] == ["+96550001111"]
    with pytest.raises(CustomerQueryError):
        customers.list_customers(engine, sales, sort="name")
    for query in ("٥٠٠٠ ١١١١", "+965 5000 1111", "0096550001111", "sara", "5000 1"):
        assert [r.key for r in customers.find_customers(engine, sales, query=query)] == ["+96550001111"], query
    seen = customers.list_customers(engine, viewer, sort="lifetime_value").rows
    assert [r.phone for r in seen] == ["+965 ••••  2222", "+965 ••••  1111"]
    assert all("6000" not in r.label and "5000" not in r.label for r in seen)
    profile = customers.customer_profile(engine, viewer, key="+96550001111")
    assert (profile.n_paid, profile.captured_fils, profile.usual_method) == (2, 8_000, "knet")
    assert profile.phone == "+965 ••••  1111"
    assert {p.customer_phone for p in profile.payments} == {"+965 ••••  1111"}
    full = customers.customer_profile(engine, sales, key="+96550001111")
    assert full.phone == "+96550001111"
    with pytest.raises(UnknownCustomer):
        customers.customer_profile(engine, sales, key="+96599999999")


def test_a_viewer_cannot_reveal_and_never_gets_contact_data_from_search(tmp_path: Path) -> None:
    engine = make_db(tmp_path)
    viewer, finance = make_staff(engine, Role.VIEWER), make_staff(engine, Role.FINANCE)
    make_payment(engine, customer_phone="+96550001111", customer_email="sara@example.com", amount_fils=5_000)
    with pytest.raises(PermissionDenied):
        customers.reveal(engine, viewer, key="+96550001111")
    assert customers.reveal(engine, finance, key="+96550001111") == "+96550001111"
    rows = search(engine, viewer, SearchFilter()).rows
    assert [(r.customer_phone, r.customer_email) for r in rows] == [("+965 ••••  1111", "s•••@e•••.com")]
    assert search(engine, finance, SearchFilter()).rows[0].customer_phone == "+96550001111"


def test_shield_never_changes_the_original() -> None:
    payment = Payment(order_id="X", amount_fils=1, customer_phone="+96550001111", customer_email="a@b.com")
    from services.permissions import Actor

    masked = shield(Actor("v@x", Role.VIEWER), payment)
    assert masked.customer_phone == "+965 ••••  1111" and payment.customer_phone == "+96550001111"
    assert re.fullmatch(r"a•••@b•••\.com", masked.customer_email or "")


@settings(max_examples=50)
@given(st.text(max_size=300))
def test_parse_key_refuses_anything_that_is_not_a_phone_or_email(text: str) -> None:
    try:
        key = customers.parse_key(text)
    except UnknownCustomer:
        return
    assert key.startswith(("+", "email:"))


@pytest.mark.postgres
def test_the_summary_triggers_and_the_list_work_on_postgresql() -> None:
    from tests.postgres import postgres_database

    with postgres_database("customers") as engine:
        sales = make_staff(engine, Role.SALES)
        sara, _noura = _sara_and_noura(engine, noura_fils=9_000)
        assert sara is not None and (sara.n_paid, sara.captured_fils, sara.net_fils) == (2, 7_000, 5_500)
        rows = customers.list_customers(engine, sales, sort="lifetime_value").rows
        assert [r.key for r in rows] == ["email:noura@example.com", "+96550001111"]
        assert customers.customer_profile(engine, sales, key="email:noura@example.com").captured_fils == 9_000


@settings(max_examples=60, deadline=None)
@given(who=st.one_of(st.none(), st.text(max_size=300), st.integers()),
       channel=st.one_of(st.sampled_from(["whatsapp", "phone", "fax", ""]), st.text(max_size=20)),
       card=st.one_of(st.text(max_size=80), st.from_regex(r"\A[0-9]{16}\Z")),
       note=st.one_of(st.text(max_size=600), st.none()),
       key=st.one_of(st.just("+96550001111"), st.text(max_size=40)))
def test_consent_input_is_refused_with_one_sentence_and_nothing_written(tmp_path_factory: pytest.TempPathFactory,
                                                                        who: object, channel: str, card: str,
                                                                        note: object, key: str) -> None:
    from datetime import timedelta

    from services.models import AuditEntry, CustomerConsent
    from services.timeutil import utcnow

    engine = _ENGINES.get("consent") or _ENGINES.setdefault("consent", make_db(tmp_path_factory.mktemp("consent")))
    finance = _FINANCE.get("f") or _FINANCE.setdefault("f", make_staff(engine, Role.FINANCE))
    with Session(engine) as session:
        before = (len(session.exec(select(CustomerConsent)).all()), len(session.exec(select(AuditEntry)).all()))
    try:
        customers.record_consent(engine, finance, key=key, card_token=card, agreed_by=who,  # type: ignore[arg-type]
                                 agreed_at=utcnow() - timedelta(minutes=5), channel=channel, note=note)  # type: ignore[arg-type]
    except (customers.ChargeError, UnknownCustomer) as exc:
        assert str(exc) and "\n" not in str(exc)
        with Session(engine) as session:
            after = (len(session.exec(select(CustomerConsent)).all()), len(session.exec(select(AuditEntry)).all()))
        assert after == before
    else:
        assert channel in customers.CONSENT_CHANNELS and card.isascii() and card.isdigit()


_ENGINES: dict[str, Any] = {}
_FINANCE: dict[str, Any] = {}


def test_a_viewer_gets_links_timeline_and_payment_detail_without_the_number(tmp_path: Path) -> None:
    from services.db import session_scope
    from services.ingest import add_event
    from services.links import follow as link_follow
    from services.search import payment_detail

    engine = make_db(tmp_path)
    viewer, sales = make_staff(engine, Role.VIEWER), make_staff(engine, Role.SALES)
    link = make_payment(engine, customer_phone="+96550001111", status="pending", source="link",
                        created_by=sales.email, raw='{"customer": {"mobile": "+96550001111"}}')
    assert link.id is not None
    with session_scope(engine) as session:
        add_event(session, link.id, "created", {"phone": "+96550001111", "amount_fils": 1500}, sales.email)
    detail = link_follow.link_detail(engine, viewer, payment_pk=link.id)
    assert detail.row.customer_phone == "+965 ••••  1111"
    assert "50001111" not in repr(detail.timeline)
    shown = payment_detail(engine, viewer, payment_pk=link.id)
    assert "50001111" not in repr(shown.events) + repr(shown.gateway) + repr(shown.payment.model_dump(exclude={"raw"}))
    assert "50001111" in repr(link_follow.link_detail(engine, sales, payment_pk=link.id).timeline)


def _reference_order(rows: list[CustomerSummary], sort: str) -> list[str]:
    """The list's order in plain Python: best first by ``sort``, never-paid (NULL) last, ties by key descending."""
    column = {"last_purchase": "last_paid_at", "lifetime_value": "net_fils", "purchases": "n_paid"}[sort]
    by_key = sorted(rows, key=lambda r: r.key, reverse=True)
    ranked = sorted((r for r in by_key if getattr(r, column) is not None), key=lambda r: getattr(r, column),
                    reverse=True)  # stable: equal values keep the key order
    return [r.key for r in ranked] + [r.key for r in by_key if getattr(r, column) is None]


@pytest.mark.postgres
@pytest.mark.parametrize("sort", list(customers.SORTS))
def test_every_sort_pages_in_the_reference_order_on_postgresql(sort: str) -> None:
    from datetime import timedelta

    from services.timeutil import utcnow
    from tests.postgres import postgres_database

    with postgres_database("custsort") as engine:
        sales = make_staff(engine, Role.SALES)
        start = utcnow() - timedelta(days=3)
        for n in range(14):  # equal values (amounts, counts, times) so the key decides ties; two never paid
            for _ in range(1 + n % 3):
                make_payment(engine, customer_phone=f"+9655000{n:04d}", amount_fils=1_000 * (1 + n % 4),
                             status="pending" if n in (3, 9) else "paid", created_at=start + timedelta(hours=n % 5))
        with Session(engine) as session:
            rows = list(session.exec(select(CustomerSummary)).all())
        assert any(r.last_paid_at is None for r in rows)
        listed = [r.key for page in range(1, 6) for r in customers.list_customers(
            engine, sales, sort=sort, page=page, page_size=3).rows]
        assert listed == _reference_order(rows, sort)
