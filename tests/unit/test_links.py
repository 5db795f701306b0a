"""Link form validation (examples + properties), order ids, permissions, and one gateway error path."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from services.gateway import UPaymentsClient
from services.links.create import (
    LineItem,
    LinkRequest,
    clean_link_request,
    create_link,
    new_idempotency_key,
    order_id_for,
    recent_duplicate,
    validate_link_request,
)
from services.models import AuditEntry, Payment
from services.permissions import PermissionDenied, Role
from tests.factories import make_db, make_payment, make_staff

KEY = "261124-abcdefghijklmnop"


@dataclass
class FakeSettings:
    public_url: str = "https://shop.test/"
    link_expiry_minutes: int = 1440
    gateway_timeout_seconds: float = 1.0


def _req(**kw: object) -> LinkRequest:
    base: dict[str, object] = {"idempotency_key": KEY, "amount": "12.5", "description": "Blue abaya"}
    base.update(kw)
    return LinkRequest(**base)  # type: ignore[arg-type]


def test_a_plain_request_is_clean() -> None:
    clean, errs = clean_link_request(_req(customer_phone="+٩٦٥ ٥٥١٢ ٣٤٥٦", customer_name=" Sara "))
    assert errs == {}
    assert clean is not None
    assert clean.amount_fils == 12_500 and clean.currency == "KWD"
    assert clean.customer_phone == "+96555123456" and clean.customer_name == "Sara"
    assert clean.expiry_minutes == 1440 and clean.delivery == "link" and clean.language == "en"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"amount": ""}, "amount", "Enter an amount"),
    ({"amount": "0"}, "amount", "greater than zero"),
    ({"amount": "12.5001"}, "amount", "at most 3 decimals"),
    ({"amount": "12,5"}, "amount", "use a point"),
    ({"amount": "-3"}, "amount", "not an amount"),
    ({"amount": "1000000.001"}, "amount", "above the limit"),
    ({"amount": "1.234", "currency": "USD"}, "amount", "at most 2 decimals"),
    ({"currency": "XYZ"}, "currency", "not a currency"),
    ({"description": "  "}, "description", "what the payment is for"),
    ({"description": "x" * 501}, "description", "500"),
    ({"customer_phone": "12"}, "customer_phone", "not a valid phone number"),
    ({"customer_phone": "call me"}, "customer_phone", "not a phone number"),
    ({"customer_email": "sara@"}, "customer_email", "valid e-mail"),
    ({"delivery": "sms"}, "customer_phone", "SMS"),
    ({"delivery": "email"}, "customer_email", "e-mail the link"),
    ({"delivery": "all", "customer_email": "s@example.com"}, "customer_phone", "SMS"),
    ({"delivery": "fax"}, "delivery", "Choose"),
    ({"language": "fr"}, "language", "English or Arabic"),
    ({"expiry_minutes": 0}, "expiry_minutes", "24 hours"),
    ({"expiry_minutes": 1441}, "expiry_minutes", "24 hours"),
    ({"idempotency_key": "x"}, "form", "reload"),
])
def test_field_errors_name_the_field(fields: dict, field: str, words: str) -> None:
    errs = validate_link_request(_req(**fields))
    assert field in errs, errs
    assert words.lower() in errs[field].lower()


def test_sms_with_a_mobile_and_email_with_an_address_are_fine() -> None:
    assert validate_link_request(_req(delivery="sms", customer_phone="55123456")) == {}
    assert validate_link_request(_req(delivery="email", customer_email="sara@example.com")) == {}
    assert validate_link_request(_req(delivery="all", customer_phone="55123456",
                                      customer_email="sara@example.com")) == {}


def test_items_add_up_or_fill_the_amount() -> None:
    items = (LineItem("Abaya", 2, "5.000"), LineItem("Scarf", "1", "2.5"), LineItem("", "", ""))
    clean, errs = clean_link_request(_req(amount="", description="", items=items))
    assert errs == {} and clean is not None
    assert clean.amount_fils == 12_500 and clean.description == "Abaya, Scarf"
    assert [(p.name, p.price_fils, p.quantity) for p in clean.products] == [("Abaya", 5000, 2), ("Scarf", 2500, 1)]
    errs = validate_link_request(_req(amount="13", items=items))
    assert "add up to 12.500 KWD, not 13.000 KWD" in errs["amount"]
    errs = validate_link_request(_req(items=(LineItem("Abaya", "two", "5"),)))
    assert errs["items"].startswith("Item 1: the quantity")
    errs = validate_link_request(_req(items=(LineItem("", 1, "5"),)))
    assert errs["items"].startswith("Item 1: give it a name")


def test_expiry_defaults_to_the_shop_setting() -> None:
    clean, _ = clean_link_request(_req(), FakeSettings(link_expiry_minutes=60))
    assert clean is not None and clean.expiry_minutes == 60


_MOBILE_PREFIXES = ["50", "55", "66", "90", "94", "97", "99"]
_SCRIPTS = [str.maketrans("", ""), str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
            str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")]


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(_MOBILE_PREFIXES), rest=st.text("0123456789", min_size=6, max_size=6),
       country=st.sampled_from(["", "+965", "00965", "965", "+965 ", "(+965) "]),
       sep=st.sampled_from(["", " ", "-", "  "]), script=st.sampled_from(_SCRIPTS))
def test_kuwaiti_mobiles_typed_any_way_normalise_to_e164(prefix: str, rest: str, country: str, sep: str,
                                                        script: dict) -> None:
    local = prefix + rest
    typed = (country + local[:4] + sep + local[4:]).translate(script)
    clean, errs = clean_link_request(_req(customer_phone=typed))
    assert errs == {}, (typed, errs)
    assert clean is not None and clean.customer_phone == f"+965{local}"


@settings(max_examples=200, deadline=None)
@given(data=st.data(), currency=st.sampled_from(["KWD", "BHD", "USD"]))
def test_amounts_with_the_currency_decimals_are_exact(data: st.DataObject, currency: str) -> None:
    exp = 3 if currency in ("KWD", "BHD") else 2
    fils = data.draw(st.integers(min_value=1, max_value=1_000_000 * 10**exp))
    text = str(Decimal(fils).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))
    clean, errs = clean_link_request(_req(amount=text, currency=currency))
    assert errs == {} and clean is not None
    assert clean.amount_fils == fils


@settings(max_examples=100, deadline=None)
@given(fils=st.integers(min_value=0, max_value=10**9 - 1), extra=st.integers(min_value=1, max_value=9))
def test_one_decimal_too_many_is_refused_never_rounded(fils: int, extra: int) -> None:
    text = str(Decimal(fils).scaleb(-3).quantize(Decimal("0.001"))) + str(extra)
    errs = validate_link_request(_req(amount=text))
    assert "at most 3 decimals" in errs.get("amount", "")


def test_order_id_is_stable_per_key_short_and_dated() -> None:
    oid = order_id_for(KEY)
    assert oid == order_id_for(KEY)
    assert oid.startswith("SD-261124-") and len(oid) == 20 and len(oid) <= 40
    assert order_id_for("261124-another-key-123") != oid
    fresh = new_idempotency_key()
    assert order_id_for(fresh).split("-")[1] == fresh[:6]
    with pytest.raises(ValueError):
        order_id_for("bad key!")


def test_viewer_and_finance_roles_at_the_service(tmp_path, dead_client) -> None:
    engine = make_db(tmp_path)
    viewer = make_staff(engine, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        create_link(engine, dead_client, viewer, request=_req(), settings_like=FakeSettings())
    with Session(engine) as session:
        assert session.exec(select(Payment)).first() is None


def test_recent_duplicate_same_phone_and_amount_within_ten_minutes(tmp_path) -> None:
    from datetime import timedelta

    from services.timeutil import utcnow

    engine = make_db(tmp_path)
    make_payment(engine, status="pending", source="link", customer_phone="+96555123456", amount_fils=12_500,
                 order_id="SD-1", link_state="active", created_at=utcnow() - timedelta(minutes=3))
    make_payment(engine, status="pending", source="link", customer_phone="+96555123456", amount_fils=12_500,
                 order_id="SD-OLD", link_state="active", created_at=utcnow() - timedelta(minutes=30))
    found = recent_duplicate(engine, "+96555123456", 12_500)
    assert found is not None and found.order_id == "SD-1"
    assert recent_duplicate(engine, "+96555123456", 12_501) is None
    assert recent_duplicate(engine, "+96599999999", 12_500) is None
    assert recent_duplicate(engine, None, 12_500) is None
    assert recent_duplicate(engine, "+96555123456", 12_500, exclude_order_id="SD-1") is None


def test_a_read_timeout_after_sending_leaves_the_link_uncertain_and_is_not_resent(tmp_path) -> None:
    """The one transport-mock test: the answer is lost after the request went out (a read timeout)."""
    engine = make_db(tmp_path)
    sales = make_staff(engine, Role.SALES)
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        raise httpx.ReadTimeout("no answer", request=request)

    client = UPaymentsClient("https://gw.test/api/v1/", "tok", transport=httpx.MockTransport(handler))
    first = create_link(engine, client, sales, request=_req(customer_phone="55123456"), settings_like=FakeSettings())
    assert first.state == "uncertain" and first.link_url is None
    assert "Check again" in first.message
    again = create_link(engine, client, sales, request=_req(customer_phone="55123456"), settings_like=FakeSettings())
    assert again.state == "uncertain" and not again.created and again.payment_pk == first.payment_pk
    assert len(sent) == 1  # never a second charge
    with Session(engine) as session:
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq))).all()
    assert list(actions) == ["link_created", "link_uncertain"]
