"""The customer's pages: ``/pay/return`` and ``/pay/cancel`` after the payment page, and ``/pay/receipt`` (+ ``.svg``).

Plain HTML, no Streamlit, no login, nothing of the staff dashboard. Every value is escaped; the query is
size-limited; what the page says comes from the verified status (services.links.landing), never from the URL.
"""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard import receipt as receipts
from dashboard import runtime
from services.links import MAX_QUERY_BYTES, REFRESH_SECONDS, Landing, land, receipt_view
from services.money import format_money

log = logging.getLogger(__name__)
_ATTEMPT = re.compile(r"[0-9]{1,5}", re.ASCII)
RETURN_PATH = "/pay/return"
CANCEL_PATH = "/pay/cancel"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               f"script-src '{receipts.PRINT_SCRIPT_HASH}'; img-src 'self'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_TEXT = {
    "en": {
        "paid_title": "Thank you",
        "paid": "Thank you, your payment of {amount} to {shop} is confirmed.",
        "paid_note": "You can close this page.",
        "pending_title": "Confirming your payment",
        "pending": "We are confirming your payment…",
        "pending_note": "This page updates by itself in a few seconds. Please do not pay again.",
        "failed_title": "Payment not completed",
        "failed": "The payment did not go through — try again.",
        "not_completed": "The payment was not completed — you can try again.",
        "failed_note": "No money was taken for this attempt.",
        "retry": "Try again",
        "expired_title": "Link expired",
        "expired": "This payment link has expired. Please ask {shop} for a new one.",
        "stalled_title": "Still confirming",
        "stalled": "We have not received the confirmation yet. If money was taken, {shop} will confirm your "
                   "payment — please do not pay again.",
        "unknown_title": "Payment not found",
        "unknown": "We could not find this payment. Please contact the shop that sent you the link.",
        "order": "Reference",
    },
    "ar": {
        "paid_title": "شكراً لكم",
        "paid": "شكراً لكم، تم تأكيد دفعتكم بمبلغ {amount} إلى {shop}.",
        "paid_note": "يمكنكم إغلاق هذه الصفحة.",
        "pending_title": "جارٍ تأكيد الدفع",
        "pending": "جارٍ تأكيد دفعتكم…",
        "pending_note": "ستتحدث هذه الصفحة تلقائياً خلال ثوانٍ. يرجى عدم الدفع مرة أخرى.",
        "failed_title": "لم تتم عملية الدفع",
        "failed": "لم تتم عملية الدفع — حاولوا مرة أخرى.",
        "not_completed": "لم تكتمل عملية الدفع — يمكنكم المحاولة مرة أخرى.",
        "failed_note": "لم يتم خصم أي مبلغ في هذه المحاولة.",
        "retry": "حاولوا مرة أخرى",
        "expired_title": "انتهت صلاحية الرابط",
        "expired": "انتهت صلاحية رابط الدفع هذا. يرجى طلب رابط جديد من {shop}.",
        "stalled_title": "ما زلنا نؤكد الدفع",
        "stalled": "لم يصلنا التأكيد بعد. إذا تم خصم المبلغ فسيؤكد {shop} دفعتكم — يرجى عدم الدفع مرة أخرى.",
        "unknown_title": "لم يتم العثور على الدفعة",
        "unknown": "لم نتمكن من العثور على هذه الدفعة. يرجى التواصل مع المتجر الذي أرسل لكم الرابط.",
        "order": "المرجع",
    },
}
_STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',Tahoma,sans-serif;background:#f6f7f9;color:#1f2937;"
          "margin:0;padding:24px}main{max-width:480px;margin:40px auto;background:#fff;border-radius:12px;"
          "padding:28px;box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:1.4rem;margin:0 0 12px}"
          ".shop{color:#6b7280;font-size:.9rem;margin-bottom:18px}p{line-height:1.6}.ok{color:#047857}"
          ".bad{color:#b91c1c}a.btn{display:inline-block;background:#1d4ed8;color:#fff;padding:10px 18px;"
          "border-radius:8px;text-decoration:none;margin-top:8px}.ref{color:#6b7280;font-size:.8rem;margin-top:20px}"
          "bdi{unicode-bidi:isolate}")


def render(view: Landing, *, shop_name: str, shop_name_ar: str, path: str, attempt: int = 0) -> tuple[str, int]:
    """The HTML page and status code for a landing view (pure; every dynamic value escaped)."""
    lang = view.language if view.language in _TEXT else "en"
    text = _TEXT[lang]
    shop = shop_name_ar if lang == "ar" and shop_name_ar else shop_name
    amount = format_money(view.amount_fils, view.currency, lang=lang) if view.amount_fils is not None else ""
    fill = {"amount": f"<bdi>{html.escape(amount)}</bdi>", "shop": f"<bdi>{html.escape(shop)}</bdi>"}
    kind = view.kind
    title_key = {"not_completed": "failed_title"}.get(kind, f"{kind}_title")
    body_text = text[kind].format(**fill)
    css = "ok" if kind == "paid" else "bad" if kind in ("failed", "not_completed", "expired") else ""
    parts = [f'<h1 class="{css}">{html.escape(text[title_key])}</h1>',
             f'<div class="shop">{html.escape(shop)}</div>', f'<p data-kind="{kind}">{body_text}</p>']
    note = {"paid": "paid_note", "pending": "pending_note", "failed": "failed_note"}.get(kind)
    if note:
        parts.append(f"<p>{html.escape(text[note])}</p>")
    if view.retry_url and kind in ("failed", "not_completed"):
        parts.append(f'<a class="btn" rel="noopener noreferrer" href="{html.escape(view.retry_url, quote=True)}">'
                     f"{html.escape(text['retry'])}</a>")
    if view.receipt is not None:
        image = f"{receipts.RECEIPT_IMAGE_PATH}?{urlencode({'o': view.receipt.order_id})}"
        parts.append(receipts.html_block(view.receipt, lang=lang, shop=shop, image_url=image))
    elif view.order_id:
        parts.append(f'<div class="ref">{html.escape(text["order"])}: <bdi>{html.escape(view.order_id)}</bdi></div>')
    refresh = ""
    if view.refresh and view.order_id:
        again = f"{path}?{urlencode({'o': view.order_id, 'n': attempt + 1})}"
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS};url={html.escape(again, quote=True)}">'
    direction = "rtl" if lang == "ar" else "ltr"
    page = (f'<!DOCTYPE html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex,nofollow">{refresh}'
            f"<title>{html.escape(text[title_key])} — {html.escape(shop)}</title>"
            f"<style>{_STYLE}{receipts.STYLE}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")
    return page, 404 if kind == "unknown" else 200


def _attempt_of(request: Request) -> int:
    """Our own auto-refresh counter; anything but 1-5 ASCII digits (``"²".isdigit()`` is true) counts as 0."""
    raw = request.query_params.get("n", "0")
    return int(raw) if _ATTEMPT.fullmatch(raw) else 0


async def _landing(request: Request, *, cancel: bool) -> Response:
    if request.method not in ("GET", "HEAD"):
        return PlainTextResponse("Method not allowed", status_code=405, headers={"Allow": "GET, HEAD", **_HEADERS})
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_BYTES:
        return PlainTextResponse("Request too large", status_code=414, headers=_HEADERS)
    query = raw.decode("utf-8", errors="replace")
    attempt = _attempt_of(request)
    settings = runtime.settings()
    try:
        client = runtime.client()  # the process's one client: pages, webhooks and landings share its limiter
        view = await run_in_threadpool(land, runtime.engine(), client, query=query, cancel=cancel, attempt=attempt,
                                       remote=request.client.host if request.client else None)
    except Exception:
        log.exception("landing page failed")
        view = Landing("stalled")
    page, code = render(view, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar,
                        path=CANCEL_PATH if cancel else RETURN_PATH, attempt=attempt)
    return HTMLResponse(page, status_code=code, headers=_HEADERS)


async def pay_return(request: Request) -> Response:
    """Where the gateway sends the customer after a successful payment (``returnUrl``)."""
    return await _landing(request, cancel=False)


async def pay_cancel(request: Request) -> Response:
    """Where the gateway sends the customer after a failed, cancelled or pending payment (``cancelUrl``)."""
    return await _landing(request, cancel=True)


async def pay_receipt(request: Request) -> Response:
    """A paid link's receipt, to keep or to send again (staff share this URL); no look-up, no refresh."""
    if request.method not in ("GET", "HEAD"):
        return PlainTextResponse("Method not allowed", status_code=405, headers={"Allow": "GET, HEAD", **_HEADERS})
    settings = runtime.settings()
    view = await run_in_threadpool(receipt_view, runtime.engine(), order_id=request.query_params.get("o", "")[:60])
    page, code = render(view, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar, path=RETURN_PATH)
    return HTMLResponse(page, status_code=code, headers=_HEADERS)


async def pay_receipt_image(request: Request) -> Response:
    """The same receipt as an SVG image download."""
    if request.method not in ("GET", "HEAD"):
        return PlainTextResponse("Method not allowed", status_code=405, headers={"Allow": "GET, HEAD", **_HEADERS})
    settings = runtime.settings()
    view = await run_in_threadpool(receipt_view, runtime.engine(), order_id=request.query_params.get("o", "")[:60])
    if view.receipt is None:
        return PlainTextResponse("Receipt not found", status_code=404, headers=_HEADERS)
    lang = view.language if view.language in _TEXT else "en"
    shop = settings.shop_name_ar if lang == "ar" and settings.shop_name_ar else settings.shop_name
    return Response(receipts.svg(view.receipt, lang=lang, shop=shop), media_type="image/svg+xml", headers={
        **_HEADERS, "Content-Disposition": f'attachment; filename="receipt-{view.receipt.order_id}.svg"'})


CARD_SAVED_PATH = "/cards/saved"


async def card_saved(request: Request) -> Response:
    """Where the hosted "my cards" page sends the customer back (add-card ``returnUrl``): a fixed thank-you page.

    Nothing from the query is shown or trusted; the saved card is read from the gateway by staff, not from here.
    """
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><meta name="robots" content="noindex,nofollow">'
            f"<title>Card saved</title><style>{_STYLE}</style></head><body><main><h1 class=\"ok\">Thank you</h1>"
            "<p data-kind=\"card_saved\">Your card is saved with UPayments for your next order. "
            "You can close this page.</p></main></body></html>")
    return HTMLResponse(page, headers=_HEADERS)


def routes() -> list[BaseRoute]:
    """Mounted by ``dashboard.routes`` beside the webhook (every verb routed here, so no SPA fall-through)."""
    verbs = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return [Route(RETURN_PATH, pay_return, methods=verbs), Route(CANCEL_PATH, pay_cancel, methods=verbs),
            Route(receipts.RECEIPT_PATH, pay_receipt, methods=verbs),
            Route(receipts.RECEIPT_IMAGE_PATH, pay_receipt_image, methods=verbs),
            Route(CARD_SAVED_PATH, card_saved, methods=verbs)]
