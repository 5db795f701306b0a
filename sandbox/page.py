"""Hosted payment page: plain server-rendered HTML, no JavaScript; every merchant/customer string is escaped."""

from __future__ import annotations

import json
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services.money import format_money

from .api import sandbox_of
from .core import NotFound
from .store import Refusal, Row
from .wire import HOSTED_SOURCES, PAY_SOURCES

# Simulator-specific test outcomes (contract §16, "Suggested simulator payment outcomes").
KNET_CAPTURED = frozenset({"8888880000000001"})
CARD_CAPTURED = frozenset({"5123450000000008", "4111111111111111", "345678901234564"})
WALLETS = frozenset({"apple-pay", "apple-pay-knet", "google-pay", "samsung-pay"})

TEXT = {
    "en": {
        "title": "Secure payment", "choose": "Choose how to pay", "pay": "Pay {amount}", "cancel": "Cancel",
        "decline": "Decline", "card": "Card number", "pin": "PIN", "expiry": "Expiry (MM/YY)", "cvv": "CVV",
        "paid": "This payment is already paid.", "expired": "This payment link has expired.",
        "missing": "Payment not found.", "items": "Items", "qty": "Qty", "sandbox": "UPayments sandbox — test only",
        "wallet": "Confirm the payment in {method}.", "back": "Other methods", "deposit": "Deposit",
        "knet": "KNET", "cc": "Card", "amex": "American Express", "apple-pay": "Apple Pay",
        "apple-pay-knet": "Apple Pay (KNET)", "google-pay": "Google Pay", "samsung-pay": "Samsung Pay",
    },
    "ar": {
        "title": "دفع آمن", "choose": "اختر طريقة الدفع", "pay": "ادفع {amount}", "cancel": "إلغاء",
        "decline": "رفض", "card": "رقم البطاقة", "pin": "الرقم السري", "expiry": "تاريخ الانتهاء (MM/YY)",
        "cvv": "رمز التحقق", "paid": "تم دفع هذا المبلغ مسبقاً.", "expired": "انتهت صلاحية رابط الدفع.",
        "missing": "لم يتم العثور على الدفعة.", "items": "المنتجات", "qty": "الكمية",
        "sandbox": "بيئة تجريبية — للاختبار فقط", "wallet": "أكّد الدفع عبر {method}.",
        "back": "طرق أخرى", "deposit": "إيداع",
        "knet": "كي نت", "cc": "بطاقة ائتمان", "amex": "أمريكان إكسبريس", "apple-pay": "Apple Pay",
        "apple-pay-knet": "Apple Pay (كي نت)", "google-pay": "Google Pay", "samsung-pay": "Samsung Pay",
    },
}
# English names as accessible labels, so tests can click by role and name in either language.
ARIA = {k: TEXT["en"][k] for k in PAY_SOURCES}

_CSS = """
body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;color:#1c2430}
main{max-width:440px;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
.ribbon{background:#ffe8a3;padding:.3rem .6rem;border-radius:6px;font-size:.8rem;display:inline-block}
.amount{font-size:2rem;font-weight:700;margin:.5rem 0}
table{width:100%;border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem 0;text-align:start}
.methods button,.actions button{display:block;width:100%;margin:.4rem 0;padding:.8rem;font-size:1rem;
border-radius:8px;border:1px solid #c8d0dc;background:#fff;cursor:pointer}
.actions button.primary{background:#0b6bcb;color:#fff;border-color:#0b6bcb}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
.note{color:#5b6675}
"""


def _lang(payment: Row | None) -> str:
    return "ar" if payment is not None and payment["language"] == "ar" else "en"


def _doc(lang: str, body: str, status: int = 200) -> HTMLResponse:
    t = TEXT[lang]
    direction = "rtl" if lang == "ar" else "ltr"
    html = (f'<!DOCTYPE html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{t["title"]}</title>'
            f'<style>{_CSS}</style></head><body><main><span class="ribbon">{t["sandbox"]}</span>{body}'
            "</main></body></html>")
    return HTMLResponse(html, status_code=status)


def _missing(lang: str = "en") -> HTMLResponse:
    """The 404 page of an unknown payment, invoice, track id or method."""
    return _doc(lang, f"<h1>{TEXT['en']['missing']}</h1>", 404)


def _summary(request: Request, payment: Row, lang: str) -> str:
    """Merchant, amount, description and line items (all escaped)."""
    merchant = escape(sandbox_of(request).config.merchant_name)
    amount = escape(format_money(payment["amount_fils"], payment["currency"], lang=lang))
    parts = [f"<h1>{merchant}</h1>", f'<p class="amount" data-testid="amount">{amount}</p>',
             f'<p class="note"><bdi>{escape(payment["description"])}</bdi></p>']  # bdi: a bidi override stays inside
    products = json.loads(payment["products"] or "[]")
    if products:
        rows = "".join(
            f"<tr><td><bdi>{escape(p['name'])}</bdi></td><td>{int(p['quantity'])}</td>"
            f"<td>{escape(format_money(p['price_fils'], payment['currency'], lang=lang))}</td></tr>"
            for p in products
        )
        t = TEXT[lang]
        parts.append(f"<table><tr><th>{t['items']}</th><th>{t['qty']}</th><th></th></tr>{rows}</table>")
    return "".join(parts)


def _blocked(request: Request, payment: Row | None, lang: str) -> HTMLResponse | None:
    """The page to show instead of a payment form, if any."""
    if payment is None:
        return _missing()
    sandbox = sandbox_of(request)
    if any(a["result"] == "CAPTURED" for a in sandbox.store.attempts(payment["session_id"])):
        return _doc(lang, _summary(request, payment, lang) + f'<p role="status">{TEXT[lang]["paid"]}</p>')
    if sandbox.is_expired(payment):
        return _doc(lang, _summary(request, payment, lang) + f'<p role="status">{TEXT[lang]["expired"]}</p>', 410)
    return None


async def choose(request: Request) -> Response:
    """``GET /pay/{session_id}``: the methods on offer (one for a white-label charge)."""
    sandbox = sandbox_of(request)
    payment = sandbox.store.payment(request.path_params["session_id"])
    lang = _lang(payment)
    blocked = _blocked(request, payment, lang)
    if blocked is not None or payment is None:  # _blocked answers a missing payment
        return blocked or _missing()
    sources = (payment["src"],) if payment["src"] in PAY_SOURCES else HOSTED_SOURCES
    t = TEXT[lang]
    sid = escape(payment["session_id"])
    buttons = "".join(
        f'<form method="get" action="/pay/{sid}/{src}"><button type="submit" aria-label="{ARIA[src]}">'
        f"{t[src]}</button></form>" for src in sources
    )
    from .cards_page import saved_cards_html  # tokens.customerUniqueToken (§18 F9)

    saved = saved_cards_html(request, payment["session_id"])
    return _doc(lang, _summary(request, payment, lang) + saved
                + f'<h2>{t["choose"]}</h2><div class="methods">{buttons}</div>')


def _field(label: str, name: str, value: str, kind: str = "text") -> str:
    return (f'<label for="{name}">{label}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}" autocomplete="off">')


async def method_form(request: Request) -> Response:
    """``GET /pay/{session_id}/{src}``: the card/KNET form or the wallet confirmation."""
    sandbox = sandbox_of(request)
    payment = sandbox.store.payment(request.path_params["session_id"])
    lang = _lang(payment)
    blocked = _blocked(request, payment, lang)
    src = request.path_params["src"]
    if blocked is not None or payment is None:  # _blocked answers a missing payment
        return blocked or _missing()
    if src not in sandbox.allowed_sources(payment):
        return _missing(lang)
    t = TEXT[lang]
    en_amount = format_money(payment["amount_fils"], payment["currency"])
    pay_label = t["pay"].format(amount=format_money(payment["amount_fils"], payment["currency"], lang=lang))
    if src == "knet":
        fields = _field(t["card"], "card_number", "8888880000000001") + _field(t["pin"], "pin", "1234", "password")
    elif src in ("cc", "amex"):
        number = "345678901234564" if src == "amex" else "5123450000000008"
        fields = (_field(t["card"], "card_number", number) + _field(t["expiry"], "expiry", "01/39")
                  + _field(t["cvv"], "cvv", "1000" if src == "amex" else "100", "password"))
    else:
        fields = f'<p>{t["wallet"].format(method=t[src])}</p>'
    decline = (f'<button type="submit" name="action" value="decline" aria-label="Decline">{t["decline"]}</button>'
               if src in WALLETS else "")
    sid = escape(payment["session_id"])
    body = (f'{_summary(request, payment, lang)}<h2>{t[src]}</h2>'
            f'<form method="post" action="/pay/{sid}/{src}">{fields}<div class="actions">'
            f'<button type="submit" class="primary" name="action" value="pay" aria-label="Pay {escape(en_amount)}">'
            f"{escape(pay_label)}</button>{decline}"
            f'<button type="submit" name="action" value="cancel" aria-label="Cancel">{t["cancel"]}</button>'
            f'</div></form><p><a href="/pay/{sid}">{t["back"]}</a></p>')
    return _doc(lang, body)


def outcome(src: str, action: str, card_number: str) -> str:
    """The result word for a submitted form (simulator-specific test cards)."""
    number = "".join(card_number.split())
    if action == "cancel":
        return "CANCELED"
    if src in WALLETS:
        return "CAPTURED" if action == "pay" else "NOT CAPTURED"
    if action != "pay":
        return "NOT CAPTURED"
    accepted = KNET_CAPTURED if src == "knet" else CARD_CAPTURED
    return "CAPTURED" if number in accepted else "NOT CAPTURED"


async def submit(request: Request) -> Response:
    """``POST /pay/{session_id}/{src}``: record the attempt, notify, send the browser to the merchant (303)."""
    sandbox = sandbox_of(request)
    session_id = request.path_params["session_id"]
    src = request.path_params["src"]
    form = await request.form()
    result = outcome(src, str(form.get("action", "")), str(form.get("card_number", "")))
    try:
        done = sandbox.complete(session_id, src, result)
    except (NotFound, Refusal):
        payment = sandbox.store.payment(session_id)
        return _blocked(request, payment, _lang(payment)) or _missing(_lang(payment))
    from .cards_page import after_card_payment  # isSaveCard (§18 F9)

    after_card_payment(request, session_id, str(form.get("card_number", "")), result)
    return RedirectResponse(done.redirect_url, status_code=303)


async def invoice(request: Request) -> Response:
    """``GET /invoice/{code}``: an invoice link opens the same payment page."""
    payment = sandbox_of(request).store.payment_by_invoice(request.path_params["code"])
    if payment is None or payment["invoice_code"] is None:
        return _missing()
    return RedirectResponse(f"/pay/{payment['session_id']}", status_code=303)


async def deposit(request: Request) -> Response:
    """``GET /deposit/{track_id}``: the deposit invoice page linked from get-deposit-status."""
    try:
        info = sandbox_of(request).deposit(request.path_params["track_id"])
    except NotFound:
        return _missing()
    return _doc("en", f"<h1>{TEXT['en']['deposit']}</h1><p>{escape(str(info['deposited_date'] or '-'))}</p>")


ROUTES = [
    Route("/pay/{session_id}", choose, methods=["GET"]),
    Route("/pay/{session_id}/{src}", method_form, methods=["GET"]),
    Route("/pay/{session_id}/{src}", submit, methods=["POST"]),
    Route("/invoice/{code}", invoice, methods=["GET"]),
    Route("/deposit/{track_id}", deposit, methods=["GET"]),
]
