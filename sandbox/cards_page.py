"""The customer-facing side of saved cards in the sandbox: the hosted "my cards" page (add-card's link) and the
saved-card buttons on the hosted payment page (``tokens.customerUniqueToken`` / ``isSaveCard``, §18 F9).

Plain server-rendered HTML without JavaScript; every stored value is escaped; only masked numbers are shown.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .cards import TEST_CARDS, vault_of


def saved_cards_html(request: Request, session_id: str) -> str:
    """Buttons for the customer's saved cards on the hosted page (``tokens.customerUniqueToken``)."""
    vault = vault_of(request)
    row = vault.charge_tokens(session_id)
    if row is None or not row["customer_token"]:
        return ""
    cards = vault.cards(row["customer_token"])
    if not cards:
        return ""
    sid = escape(session_id)
    buttons = "".join(
        f'<form method="post" action="/pay/{sid}/saved"><input type="hidden" name="card" '
        f'value="{escape(c["token"])}"><button type="submit" '
        f'aria-label="Pay with saved card {escape(c["number"][-4:])}">'
        f'{escape(c["brand"])} •••• {escape(c["number"][-4:])}</button></form>' for c in cards)
    return f'<h2>Your saved cards</h2><div class="methods">{buttons}</div>'


def after_card_payment(request: Request, session_id: str, card_number: str, result: str) -> None:
    """``isSaveCard``: a captured card payment on the hosted page also saves the (test) card."""
    row = vault_of(request).charge_tokens(session_id)
    number = "".join(card_number.split())
    if row and row["customer_token"] and row["save_card"] and result == "CAPTURED" and number in TEST_CARDS:
        vault_of(request).save(row["customer_token"], number)


async def pay_saved(request: Request) -> Response:
    """``POST /pay/{session_id}/saved``: pay a hosted-page charge with one of the customer's saved cards."""
    vault = vault_of(request)
    session_id = request.path_params["session_id"]
    row = vault.charge_tokens(session_id)
    form = await request.form()
    card = vault.card(str(form.get("card", "")))
    if row is None or card is None or card["customer_token"] != row["customer_token"]:
        return HTMLResponse("<p>This card is not available.</p>", status_code=404)
    done = vault.sandbox.complete(session_id, "cc", "NOT CAPTURED" if card["declines"] else "CAPTURED")
    return RedirectResponse(done.redirect_url, status_code=303)


# ---------------------------------------------------------------- the hosted "my cards" page

_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width,initial-scale=1\"><title>My cards</title><style>"
         "body{{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0}}main{{max-width:440px;margin:2rem auto;"
         "background:#fff;border-radius:12px;padding:1.5rem}}label{{display:block;margin:.6rem 0 .2rem}}"
         "input{{width:100%;padding:.5rem;box-sizing:border-box}}button{{margin-top:1rem;padding:.8rem;width:100%}}"
         ".ribbon{{background:#ffe8a3;padding:.3rem .6rem;border-radius:6px;font-size:.8rem}}</style></head><body>"
         "<main><span class=\"ribbon\">UPayments sandbox — test only</span>{body}</main></body></html>")


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status)


async def my_cards(request: Request) -> Response:
    """``GET /my-cards?session_id=…``: the customer's saved cards and a form to save a test card."""
    session = vault_of(request).session(request.query_params.get("session_id", ""))
    if session is None:
        return _page("<h1>Link not found</h1>", 404)
    cards = vault_of(request).cards(session["customer_token"])
    listed = "".join(f"<li>{escape(c['brand'])} {escape(c['number'])}</li>" for c in cards) or "<li>None yet</li>"
    sid = escape(session["session_id"])
    body = (f"<h1>My cards</h1><ul data-testid=\"cards\">{listed}</ul><h2>Save a card</h2>"
            f'<form method="post" action="/my-cards"><input type="hidden" name="session_id" value="{sid}">'
            '<label for="card_number">Card number</label><input id="card_number" name="card_number" '
            'value="5123450000000008" autocomplete="off"><label for="expiry">Expiry (MM/YY)</label>'
            '<input id="expiry" name="expiry" value="01/39"><label for="cvv">CVV</label>'
            '<input id="cvv" name="cvv" type="password" value="100">'
            '<button type="submit" aria-label="Save card">Save card</button></form>'
            "<p>KNET cards (KFAST) are saved by KNET itself and cannot be saved here.</p>")
    return _page(body)


async def save_card(request: Request) -> Response:
    """``POST /my-cards``: save a test card, then send the customer back to the merchant's ``returnUrl``."""
    form = await request.form()
    vault = vault_of(request)
    session = vault.session(str(form.get("session_id", "")))
    if session is None:
        return _page("<h1>Link not found</h1>", 404)
    number = "".join(str(form.get("card_number", "")).split())
    if number not in TEST_CARDS:
        return _page("<h1>Card not accepted</h1><p>Use one of the sandbox test cards.</p>", 422)
    card = vault.save(session["customer_token"], number)
    sep = "&" if urlsplit(session["return_url"]).query else "?"
    query = urlencode({"result": "saved", "card": card["number"][-4:]})
    return RedirectResponse(f"{session['return_url']}{sep}{query}", status_code=303)



ROUTES = [
    Route("/my-cards", my_cards, methods=["GET"]),
    Route("/my-cards", save_card, methods=["POST"]),
    Route("/pay/{session_id}/saved", pay_saved, methods=["POST"]),
]
