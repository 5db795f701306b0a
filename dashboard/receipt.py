"""The customer's receipt: the block on the thank-you page, a print view, and the same receipt as an SVG image.

Customers here screenshot the result page as proof of payment over WhatsApp, so the page itself is the receipt:
shop, amount with 3 decimals, method, Kuwait date and time, the gateway's payment and track ids and our order id.
Every value is escaped (HTML and XML alike); ids sit in ``<bdi>`` so they never scramble inside Arabic text.
"""

from __future__ import annotations

import base64
import hashlib
import html

from babel.dates import format_datetime

from dashboard.safe import plain
from services.links import Receipt
from services.money import format_money
from services.timeutil import KUWAIT

RECEIPT_PATH = "/pay/receipt"
RECEIPT_IMAGE_PATH = "/pay/receipt.svg"


def receipt_url(public_url: str, order_id: str) -> str:
    """The customer's address of a paid link's receipt (what staff send over WhatsApp)."""
    from urllib.parse import urlencode

    return f"{public_url.rstrip('/')}{RECEIPT_PATH}?{urlencode({'o': order_id})}"

_LABELS = {
    "en": {"title": "Payment receipt", "amount": "Amount", "method": "Method", "paid_at": "Paid on (Kuwait time)",
           "payment_id": "Payment ID", "track_id": "Track ID", "order_id": "Order", "reference": "Reference",
           "print": "Print or save as PDF", "image": "Save as image", "shop": "Paid to"},
    "ar": {"title": "إيصال الدفع", "amount": "المبلغ", "method": "طريقة الدفع",
           "paid_at": "تاريخ الدفع (بتوقيت الكويت)", "payment_id": "رقم الدفعة", "track_id": "رقم التتبع",
           "order_id": "رقم الطلب", "reference": "المرجع",
           "print": "طباعة أو حفظ كملف PDF", "image": "حفظ كصورة", "shop": "المدفوع له"},
}
_METHODS = {
    "en": {"knet": "KNET", "card": "Card", "amex": "Amex", "apple_pay": "Apple Pay",
           "apple_pay_knet": "Apple Pay (KNET)", "google_pay": "Google Pay", "samsung_pay": "Samsung Pay"},
    "ar": {"knet": "كي نت", "card": "بطاقة", "amex": "أمريكان إكسبريس", "apple_pay": "Apple Pay",
           "apple_pay_knet": "Apple Pay (كي نت)", "google_pay": "Google Pay", "samsung_pay": "Samsung Pay"},
}
#: The print button's script; the page's CSP allows exactly this script by its hash, nothing else.
PRINT_SCRIPT = "document.getElementById('print').addEventListener('click',function(){window.print()});"
PRINT_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
STYLE = (".receipt{border-top:1px dashed #d1d5db;margin-top:18px;padding-top:14px}.receipt h2{font-size:1.05rem;"
         "margin:0 0 10px}.receipt dl{display:grid;grid-template-columns:auto 1fr;gap:6px 14px;margin:0}"
         ".receipt dt{color:#6b7280}.receipt dd{margin:0;font-weight:600;overflow-wrap:anywhere}"
         ".actions{margin-top:16px;display:flex;gap:10px;flex-wrap:wrap}.actions button,.actions a{font:inherit;"
         "border:1px solid #d1d5db;background:#fff;border-radius:8px;padding:8px 14px;color:#1f2937;"
         "text-decoration:none;cursor:pointer}"
         "@media print{body{background:#fff;padding:0}main{box-shadow:none;margin:0;max-width:none}"
         ".actions,.no-print{display:none}}")


def lines(receipt: Receipt, *, lang: str, shop: str) -> list[tuple[str, str]]:
    """(label, value) pairs in reading order; a value the gateway did not give is left out, never invented."""
    text = _LABELS[lang]
    paid = format_datetime(receipt.paid_at, "d MMM y, HH:mm" if lang == "en" else "d MMMM y، HH:mm",
                           tzinfo=KUWAIT, locale=lang) if receipt.paid_at else None
    pairs = [
        ("shop", shop),
        ("amount", format_money(receipt.amount_fils, receipt.currency, lang=lang)),
        ("method", _METHODS[lang].get(receipt.method or "", receipt.method or "")),
        ("paid_at", paid),
        ("payment_id", receipt.payment_id),
        ("track_id", receipt.track_id),
        ("order_id", receipt.order_id),
        ("reference", receipt.reference if receipt.reference != receipt.order_id else None),
    ]
    return [(text[key], _printable(value)) for key, value in pairs if value and _printable(value)]


def _printable(value: str) -> str:
    """No control characters (invalid in XML, invisible on paper) and no bidi controls (they would reorder the
    receipt's lines); the rest is escaped where it is written."""
    return "".join(ch for ch in plain(value) if ch.isprintable() or ch == " ")


def html_block(receipt: Receipt, *, lang: str, shop: str, image_url: str) -> str:
    """The receipt section of the thank-you page, with a print button and an image download."""
    text = _LABELS[lang]
    rows = "".join(f"<dt>{html.escape(label)}</dt><dd><bdi>{html.escape(value)}</bdi></dd>"
                   for label, value in lines(receipt, lang=lang, shop=shop))
    return (f'<section class="receipt" aria-label="{html.escape(text["title"], quote=True)}">'
            f"<h2>{html.escape(text['title'])}</h2><dl>{rows}</dl>"
            f'<div class="actions"><button type="button" id="print">{html.escape(text["print"])}</button>'
            f'<a href="{html.escape(image_url, quote=True)}" download>{html.escape(text["image"])}</a></div>'
            f"<script>{PRINT_SCRIPT}</script></section>")


def svg(receipt: Receipt, *, lang: str, shop: str) -> str:
    """The receipt as a standalone SVG image (text, so it stays sharp and small; Arabic is shaped by the viewer)."""
    text = _LABELS[lang]
    pairs = lines(receipt, lang=lang, shop=shop)
    width, row = 560, 34
    height = 110 + row * len(pairs)
    rtl = lang == "ar"
    label_x, value_x = (width - 32, width - 230) if rtl else (32, 230)
    anchor = "end" if rtl else "start"  # right-aligned columns in Arabic; the viewer's bidi orders each line
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="system-ui, Tahoma, sans-serif">',
           f'<rect width="{width}" height="{height}" rx="14" fill="#ffffff" stroke="#e5e7eb"/>',
           f'<text x="{label_x}" y="52" font-size="24" font-weight="700" fill="#047857" text-anchor="{anchor}"'
           f">{html.escape(text['title'])}</text>"]
    for n, (label, value) in enumerate(pairs):
        y = 100 + n * row
        out.append(f'<text x="{label_x}" y="{y}" font-size="15" fill="#6b7280" text-anchor="{anchor}">'
                   f"{html.escape(label)}</text>")
        out.append(f'<text x="{value_x}" y="{y}" font-size="16" font-weight="600" fill="#111827" '
                   f'text-anchor="{anchor}">{html.escape(value)}</text>')
    out.append("</svg>")
    return "".join(out)
