"""Share texts and targets: WhatsApp/SMS/e-mail deep links, Arabic message, QR code that decodes to the link."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import PIL.Image
import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st

from services import audit
from services.links import share
from services.links.share import (
    ShareContext,
    context_for,
    email_subject,
    mailto_url,
    message_text,
    qr_png,
    record_share,
    share_links,
    sms_url,
    whatsapp_url,
)
from services.models import AuditEntry, PaymentEvent
from services.permissions import PermissionDenied, Role
from services.phones import normalize_phone
from tests.factories import make_db, make_payment, make_staff

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 15:00 in Kuwait
LINK = "https://sandbox.upayments.com/invoice/AbC123xyz"


def _ctx(lang: str = "en", **kw: object) -> ShareContext:
    base: dict[str, object] = dict(link=LINK, amount_fils=12_500, currency="KWD", description="Blue abaya",
                                   customer_name="Sara", language=lang,
                                   shop_name="Souq Demo Shop" if lang == "en" else "متجر سوق التجريبي",
                                   expires_at=NOW + timedelta(hours=5))
    base.update(kw)
    return ShareContext(**base)  # type: ignore[arg-type]


def _wa_text(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "wa.me"
    return parts.path.lstrip("/"), parse_qs(parts.query)["text"][0]


@pytest.mark.parametrize("typed", ["+٩٦٥ ٥٥١٢ ٣٤٥٦", "٥٥١٢٣٤٥٦", "٠٠٩٦٥٥٥١٢٣٤٥٦", "0096555123456", "965 5512 3456",
                                   "5512-3456", "‏+965 5512 3456‎"])
def test_whatsapp_url_for_numbers_typed_any_way(typed: str) -> None:
    phone = normalize_phone(typed)
    digits, text = _wa_text(whatsapp_url("Hi ✓ & more", phone))
    assert digits == "96555123456"
    assert text == "Hi ✓ & more"


def test_whatsapp_url_for_a_foreign_number_typed_in_arabic_digits() -> None:
    # ٠٥٥١٢٣٤٥٦٧ is the Saudi *domestic* format (0 + 9 digits); with its country code it reaches the right chat
    digits, _text = _wa_text(whatsapp_url("x", normalize_phone("+٩٦٦ ٥٥١٢٣٤٥٦٧")))
    assert digits == "966551234567"


def test_a_domestic_foreign_number_is_refused_rather_than_guessed() -> None:
    from services.phones import InvalidPhone

    # 10 digits with a trunk 0 is not a Kuwaiti number (8 digits, no trunk prefix): guessing a country could
    # send the customer's payment link to a stranger, so the form asks for the country code instead.
    with pytest.raises(InvalidPhone, match="Kuwaiti number is \\+965 and 8 digits"):
        normalize_phone("٠٥٥١٢٣٤٥٦٧")


def test_whatsapp_url_without_a_number_lets_the_user_pick_the_chat() -> None:
    digits, text = _wa_text(whatsapp_url("Hello"))
    assert digits == "" and text == "Hello"


def test_english_message_has_shop_amount_purpose_expiry_in_kuwait_time_and_link() -> None:
    text = message_text(_ctx(), now=NOW)
    assert "Hello Sara," in text
    assert "Souq Demo Shop" in text
    assert "Amount: 12.500 KWD" in text
    assert "For: Blue abaya" in text
    assert LINK in text
    assert "24 Nov 2026, 20:00 (Kuwait time)" in text  # 17:00 UTC is 20:00 in Kuwait


def test_arabic_message_uses_arabic_amount_digits_and_shop_name() -> None:
    text = message_text(_ctx("ar"), now=NOW)
    assert "مرحباً Sara،" in text
    assert "متجر سوق التجريبي" in text
    assert "١٢٫٥٠٠ د.ك" in text
    assert "مقابل: Blue abaya" in text
    assert "٢٤/١١/٢٠٢٦ الساعة ٢٠:٠٠ بتوقيت الكويت" in text
    assert LINK in text  # the link itself stays as it is
    _digits, decoded = _wa_text(whatsapp_url(text, "+96555123456"))
    assert decoded == text


def test_reminder_says_how_long_is_left() -> None:
    en = message_text(_ctx(), reminder=True, now=NOW)
    assert "reminder" in en.lower() and "expires in 5 hours" in en and "still waiting" in en
    ar = message_text(_ctx("ar"), reminder=True, now=NOW)
    assert "تذكير" in ar and "خلال ٥ ساعات" in ar
    soon = message_text(_ctx(expires_at=NOW + timedelta(minutes=1, seconds=30)), reminder=True, now=NOW)
    assert "expires in 1 minute " in soon
    last = message_text(_ctx(expires_at=NOW + timedelta(seconds=20)), reminder=True, now=NOW)
    assert "expires in 1 minute " in last  # under a minute left: never "1 minutes"
    ar_two = message_text(_ctx("ar", expires_at=NOW + timedelta(hours=2, minutes=10)), reminder=True, now=NOW)
    assert "خلال ساعتين" in ar_two


def test_message_without_name_description_or_expiry() -> None:
    text = message_text(_ctx(customer_name=None, description="", expires_at=None), now=NOW)
    assert text.startswith("Hello,\n")
    assert "For:" not in text and "valid until" not in text


FULL_TEXTS = [  # (language, reminder, message lines, e-mail subject): pinned to the letter
    ("en", False, [
        "Hello Sara,",
        "Souq Demo Shop has sent you a payment link.",
        "Amount: 12.500 KWD",
        "For: Blue abaya",
        f"Pay securely here: {LINK}",
        "The link is valid until 24 Nov 2026, 20:00 (Kuwait time).",
        "Thank you.",
    ], "Payment link from Souq Demo Shop for 12.500 KWD"),
    ("en", True, [
        "Hello Sara,",
        "A friendly reminder from Souq Demo Shop: your payment of 12.500 KWD for Blue abaya is still waiting.",
        f"Pay securely here: {LINK}",
        "The link expires in 5 hours (24 Nov 2026, 20:00 Kuwait time).",
        "Thank you.",
    ], "Reminder: Payment link from Souq Demo Shop for 12.500 KWD"),
    ("ar", False, [
        "مرحباً Sara،",
        "أرسل لكم متجر سوق التجريبي رابط دفع.",
        "المبلغ: ١٢٫٥٠٠ د.ك",
        "مقابل: Blue abaya",
        f"للدفع الآمن: {LINK}",
        "الرابط صالح حتى ٢٤/١١/٢٠٢٦ الساعة ٢٠:٠٠ بتوقيت الكويت.",
        "شكراً لكم.",
    ], "رابط دفع من متجر سوق التجريبي بمبلغ ١٢٫٥٠٠ د.ك"),
    ("ar", True, [
        "مرحباً Sara،",
        "تذكير من متجر سوق التجريبي: دفعتكم بمبلغ ١٢٫٥٠٠ د.ك مقابل Blue abaya ما زالت بانتظار الدفع.",
        f"للدفع الآمن: {LINK}",
        "ينتهي الرابط خلال ٥ ساعات (٢٤/١١/٢٠٢٦ الساعة ٢٠:٠٠ بتوقيت الكويت).",
        "شكراً لكم.",
    ], "تذكير: رابط دفع من متجر سوق التجريبي بمبلغ ١٢٫٥٠٠ د.ك"),
]


@pytest.mark.parametrize(("lang", "reminder", "lines", "subject"), FULL_TEXTS)
def test_full_message_and_subject_in_each_language(lang: str, reminder: bool, lines: list[str], subject: str) -> None:
    ctx = _ctx(lang)
    assert message_text(ctx, reminder=reminder, now=NOW) == "\n".join(lines)
    assert email_subject(ctx, reminder=reminder) == subject


def test_sms_and_mailto_targets_carry_the_text() -> None:
    sms = sms_url("Pay: https://x.test/a?b=1&c=2", "+96555123456")
    assert sms.startswith("sms:+96555123456?&body=")
    assert unquote(sms.split("body=", 1)[1]) == "Pay: https://x.test/a?b=1&c=2"
    mail = mailto_url("Line 1\nLine 2", "Subject & more", "sara@example.com")
    parts = urlsplit(mail)
    assert parts.scheme == "mailto" and parts.path == "sara@example.com"
    query = parse_qs(parts.query)
    assert query["subject"] == ["Subject & more"] and query["body"] == ["Line 1\nLine 2"]
    assert "١٢٫٥٠٠ د.ك" in email_subject(_ctx("ar"))


def test_share_links_bundle_uses_the_same_text_everywhere() -> None:
    links = share_links(_ctx(), phone_e164="+96555123456", email="s@example.com", now=NOW)
    assert _wa_text(links.whatsapp)[1] == links.text
    assert unquote(links.sms.split("body=", 1)[1]) == links.text
    assert parse_qs(urlsplit(links.email).query)["body"] == [links.text]


def test_qr_code_decodes_to_the_link() -> None:
    png = qr_png(LINK)
    assert png.startswith(b"\x89PNG")
    found = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png)))
    assert [r.text for r in found] == [LINK]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=300))
def test_whatsapp_text_round_trips_any_message(text: str) -> None:
    _digits, decoded = _wa_text(whatsapp_url(text, "+96550000000"))
    assert decoded == text


def test_context_for_a_row_picks_the_shop_name_in_the_customer_language(tmp_path) -> None:
    engine = make_db(tmp_path)
    payment = make_payment(engine, status="pending", method=None, source="link", link_url=LINK, language="ar",
                           description="Dates box")
    ctx = context_for(payment, shop_name="Souq", shop_name_ar="سوق")
    assert ctx.shop_name == "سوق" and ctx.language == "ar" and ctx.link == LINK
    no_link = make_payment(engine, status="pending", source="link")
    with pytest.raises(ValueError, match="nothing to share"):
        context_for(no_link, shop_name="Souq")


def test_record_share_writes_timeline_and_audit_and_refuses_viewers(tmp_path) -> None:
    engine = make_db(tmp_path)
    sales = make_staff(engine, Role.SALES)
    viewer = make_staff(engine, Role.VIEWER)
    payment = make_payment(engine, status="pending", method=None, source="link", link_url=LINK,
                           order_id="SD-261124-AAAAAAAAAA")
    assert payment.id is not None
    record_share(engine, sales, payment_pk=payment.id, channel="whatsapp")
    record_share(engine, sales, payment_pk=payment.id, channel="whatsapp", reminder=True)
    with pytest.raises(PermissionDenied):
        record_share(engine, viewer, payment_pk=payment.id, channel="qr")
    with pytest.raises(ValueError, match="Unknown share channel"):
        record_share(engine, sales, payment_pk=payment.id, channel="pigeon")
    from sqlmodel import Session, col, select

    with Session(engine) as session:
        kinds = session.exec(select(PaymentEvent.kind).where(col(PaymentEvent.payment_pk) == payment.id)
                             .order_by(col(PaymentEvent.id))).all()
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq))).all()
    assert list(kinds) == ["shared", "reminded"]
    assert list(actions) == ["link_shared", "link_reminded"]
    assert audit.verify(engine).ok


def test_no_reminder_for_a_paid_link(tmp_path) -> None:
    engine = make_db(tmp_path)
    sales = make_staff(engine, Role.SALES)
    paid = make_payment(engine, status="paid", source="link", link_url=LINK)
    assert paid.id is not None
    with pytest.raises(ValueError, match="already paid"):
        record_share(engine, sales, payment_pk=paid.id, channel="whatsapp", reminder=True)


def test_the_add_card_invitation_speaks_the_customers_language_like_a_payment_link() -> None:
    link = "https://sandbox.upayments.com/add-card/abc"
    english = share.save_card_text(link, shop_name="Demo Shop", lang="en")
    arabic = share.save_card_text(link, shop_name="متجر سوق التجريبي", lang="ar")
    assert english.startswith("Demo Shop: save your card") and english.endswith(link)
    assert arabic.startswith("متجر سوق التجريبي: احفظوا بطاقتكم") and arabic.endswith(link)
    assert "save your card" not in arabic
    assert share.save_card_text(link, shop_name="Demo Shop", lang="fr") == english  # unknown: English
