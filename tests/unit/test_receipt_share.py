"""Sending a paid link's receipt: the message in the customer's language, only for paid links, recorded once sent."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlmodel import Session, col, select

from services import links
from services.models import PaymentEvent
from services.permissions import Role
from tests.factories import make_db, make_payment, make_staff

URL = "https://shop.example/pay/receipt?o=SD-261127-ABCDEFGHJK"


def test_receipt_message_in_english_and_arabic_carries_the_receipt_address() -> None:
    class Row:
        link_url, amount_fils, currency, description, expires_at = "https://pay", 12_500, "KWD", None, None
        customer_name, language = "Huda", "en"

    en = links.receipt_links(Row(), receipt_url=URL, shop_name="Souq", phone_e164="+96555123456")
    assert "12.500 KWD" in en.text and URL in en.text and "Souq" in en.text
    assert en.whatsapp.startswith("https://wa.me/96555123456?text=") and URL in unquote(en.whatsapp)
    Row.language = "ar"
    ar = links.receipt_links(Row(), receipt_url=URL, shop_name="Souq", shop_name_ar="سوق")
    assert "إيصال" in ar.text and "سوق" in ar.text and URL in ar.text and ar.whatsapp.startswith("https://wa.me/?")


def test_only_a_paid_link_has_a_receipt_to_send_and_sending_is_recorded(tmp_path) -> None:
    engine = make_db(tmp_path)
    sales = make_staff(engine, Role.SALES)
    paid = make_payment(engine, source="link", link_url="https://pay/1", status="paid")
    waiting = make_payment(engine, source="link", link_url="https://pay/2", status="pending")
    with pytest.raises(ValueError, match="not paid"):
        links.record_share(engine, sales, payment_pk=waiting.id or 0, channel="whatsapp", receipt=True)
    links.record_share(engine, sales, payment_pk=paid.id or 0, channel="whatsapp", receipt=True)
    with Session(engine) as session:
        kinds = session.exec(select(PaymentEvent.kind).where(col(PaymentEvent.payment_pk) == paid.id)).all()
    assert list(kinds) == ["receipt_sent"]
