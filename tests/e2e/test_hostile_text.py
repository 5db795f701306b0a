"""Customer text is never markup: a hostile corpus goes in through the real flows and every page shows it literally.

A link is created on the links page with a Markdown/HTML/LaTeX/emoji/bidi corpus as its description and customer
name, paid on the sandbox page, refunded with the corpus as the note (above the approval threshold, so the
approval card shows too), and the corpus is put into Transactions' URL filters. Then admin and finance open every
page they may see, and the customer's pages are checked too. On each: no link or image whose address came from
the data, no bold/heading/italic/colour/LaTeX/emoji/icon made from the data, no bidi control in the text — and
the tracker image, served by a tiny local HTTP server, is never requested.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import DemoStack, login, open_first_page, wait_idle

pytestmark = pytest.mark.e2e

MARKERS = ("zzclick", "zzimg", "zzhtml", "zzbold", "zzalarm", "zzheading", "zzitalic", "zzdel")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"

# Every element kind a renderer could make from the corpus; the page itself never makes one whose whole text is
# a marker word, so finding one means data became markup.
_SCAN = """([markers, bidi, tracker]) => {
  const bad = [];
  const text = (e) => (e.textContent || '').replace(/\\u2060/g, '').trim();
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href') || '';
    let u;
    try { u = new URL(href, location.href); } catch (e) { bad.push('odd link ' + href); continue; }
    // where the link goes must not come from data (share links carry data only encoded in their query)
    if (u.host.includes('evil.example') || u.host === tracker || u.pathname.includes('evil.example'))
      bad.push('link ' + href);
  }
  for (const img of document.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    if (src.includes(tracker) || src === 'x' || src.includes('evil.example')) bad.push('image ' + src);
  }
  const fmt = 'b, strong, em, i, del, s, h1, h2, h3, h4, h5, h6, .stMarkdownColoredText, code';
  for (const e of document.querySelectorAll(fmt)) {
    if (markers.includes(text(e))) bad.push('formatting <' + e.tagName + '> ' + text(e));
  }
  if (document.querySelector('.katex')) bad.push('LaTeX rendered');
  const body = document.body.innerText;
  if (body.includes('\\u{1F604}')) bad.push('emoji shortcode rendered');
  // a bidi control may only appear isolated in a <bdi> (HTML pages); Streamlit pages strip them
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (const ch of bidi) {
      if (n.nodeValue.includes(ch) && !n.parentElement.closest('bdi, textarea'))  // a form field shows what is typed
        bad.push('bidi control U+' + ch.charCodeAt(0).toString(16) + ' in ' + n.nodeValue.slice(0, 40));
    }
  }
  return bad;
}"""


class _Tracker(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Tracker.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tracker() -> Iterator[str]:
    """A local image server that counts every request; the test asserts it got none."""
    _Tracker.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tracker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def corpus(tracker: str, *, bidi: bool = False) -> str:
    """Under 255 characters: it must also fit the customer-name field. Staff forms refuse bidi controls
    (services/inputs.py), so those arrive as gateway data instead (``bidi=True``)."""
    override = "\u202eevil\u202c" if bidi else "evil"
    return (f"[zzclick](https://evil.example/x) ![zzimg](http://{tracker}/t.png) <img src=x onerror=alert(1)> "
            f"<b>zzhtml</b> **zzbold** https://evil.example/auto :red[zzalarm] $x^2$ {override} :smile: "
            "zz@evil.example www.evil.example")


def description(tracker: str) -> str:
    return f"# zzheading {corpus(tracker)} _zzitalic_ ~~zzdel~~ :material/home:"


def check(page: Page, tracker: str, shots: Path, name: str, *, streamlit: bool = True) -> None:
    """No markup from data on the page as it is now; a screenshot for people to look at."""
    if streamlit:
        wait_idle(page)
    page.wait_for_timeout(500)  # fragments and dialogs settle
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    bad = page.evaluate(_SCAN, [list(MARKERS), BIDI, tracker])
    assert not bad, f"{name}: data rendered as markup: {bad}"


def shows_literally(page: Page, text: str) -> bool:
    body = page.evaluate("() => document.body.innerText.replace(/\\u2060/g, '')")
    return text in body


def _create_and_pay(page: Page, stack: DemoStack, tracker: str, shots: Path) -> str:
    """The links page with the corpus, then the customer pays on the sandbox page; returns the order id."""
    open_first_page(page, stack)
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Amount").fill("250")
    form.get_by_role("textbox", name="Customer mobile (WhatsApp)").fill("+965 5512 3456")
    form.get_by_role("textbox", name="What is it for?").fill(description(tracker))
    form.get_by_role("textbox", name="Customer name").fill(corpus(tracker, bidi=True))
    form.get_by_role("button", name="Create link").click()  # a staff form refuses text-direction controls
    expect(page.get_by_text("The customer's name contains control or text-direction characters")).to_be_visible(
        timeout=30_000)
    form.get_by_role("textbox", name="Customer name").fill(corpus(tracker))
    form.get_by_role("button", name="Create link").click()
    outcome = page.locator(".st-key-link_outcome")
    expect(outcome).to_contain_text("The link is ready to share.", timeout=30_000)
    check(page, tracker, shots, "links-created")
    link = outcome.get_by_test_id("stCode").locator("code").inner_text().strip()

    customer = page.context.new_page()
    customer.goto(link)
    check(customer, tracker, shots, "sandbox-pay-page", streamlit=False)
    assert shows_literally(customer, "[zzclick](https://evil.example/x)")
    customer.get_by_role("button", name="KNET").click()
    customer.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(customer).to_have_url(re.compile(r"/pay/return\?o=SD-"), timeout=20_000)
    expect(customer.locator("p[data-kind]")).to_have_text(re.compile("Thank you"), timeout=30_000)
    check(customer, tracker, shots, "customer-return", streamlit=False)
    order_id = re.search(r"o=(SD-[A-Za-z0-9-]+)", customer.url)
    customer.close()
    assert order_id is not None
    expect(outcome).to_contain_text("Paid", timeout=20_000)
    return order_id.group(1)


def _select_first_row(page: Page, table_key: str, shots: Path, shows: str) -> None:
    """Click the first data row of a selectable ``st.dataframe`` (the grid is a canvas: click by position) until
    ``shows`` appears; the links list re-renders every 3 s while a link awaits payment, and a click that lands
    during that re-render is lost."""
    for _ in range(3):
        grid = page.locator(f".st-key-{table_key}").first
        grid.wait_for(timeout=20_000)
        grid.click(position={"x": 12, "y": 35 + 17})  # the row marker of row 1, under the 35 px header
        wait_idle(page)
        try:
            page.locator(shows).first.wait_for(timeout=8_000)
            break
        except PlaywrightTimeout:
            continue
    page.screenshot(path=str(shots / f"select-{table_key}.png"), full_page=False)


def _refund_with_corpus(page: Page, stack: DemoStack, tracker: str, shots: Path, order_id: str) -> None:
    page.goto(f"{stack.app}/refunds?payment={order_id}")
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Payment {order_id}")).to_be_visible(timeout=30_000)
    check(page, tracker, shots, "refunds-payment")
    assert shows_literally(page, "[zzclick](https://evil.example/x)")  # the caption shows the name as typed
    reason = page.get_by_test_id("stSelectbox").filter(has_text="Reason").locator("input")
    reason.click()
    reason.fill("Other")
    reason.press("Enter")
    page.get_by_label("Note (required for “Other”)").fill(corpus(tracker))
    page.get_by_role("button", name="Review refund").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible(timeout=15_000)
    check(page, tracker, shots, "refunds-confirm-dialog")
    assert shows_literally(page, "**zzbold**")
    dialog.get_by_role("button", name="Confirm refund").click()
    wait_idle(page)
    check(page, tracker, shots, "refunds-after")


def _visit_all(page: Page, stack: DemoStack, tracker: str, shots: Path, who: str, order_id: str) -> None:
    hostile = corpus(tracker)
    urls = {
        "links": "/links",
        "transactions-filters": "/transactions?" + urlencode({"status": hostile, "min": hostile, "q": hostile,
                                                              "method": hostile, "sort": hostile}),
        "transactions": f"/transactions?order={order_id}",
        "refunds": f"/refunds?payment={order_id}",
        "reconciliation": "/reconciliation",
        "analytics": "/analytics?" + urlencode({"period": hostile, "family": hostile}),
        "customers-query": "/customers?" + urlencode({"c": hostile, "payment": hostile}),
        "customers": "/customers",
        "webhooks": "/webhooks",
        "staff": "/staff",
        "audit": "/audit",
    }
    for name, path in urls.items():
        page.goto(stack.app + path)
        wait_idle(page)
        if name == "links":
            _select_first_row(page, "links_table", shots, ".st-key-link_detail")
            expect(page.locator(".st-key-link_detail")).to_be_visible(timeout=20_000)
            assert shows_literally(page, "[zzclick](https://evil.example/x)"), "links detail caption"
        if name == "transactions":
            _select_first_row(page, "tx_table", shots, '[data-testid="stExpander"]')
            expect(page.get_by_test_id("stExpander").first).to_be_visible(timeout=20_000)
        if name == "transactions-filters":
            expect(page.get_by_test_id("stAlert").first).to_be_visible(timeout=20_000)
        check(page, tracker, shots, f"{who}-{name}")


def _as_gateway_data(stack: DemoStack, order_id: str, text: str) -> None:
    """The customer's name as the gateway could report it (no staff form in between): bidi controls included."""
    with sqlite3.connect(stack.data_dir / "souq.db", timeout=30) as conn:
        conn.execute("UPDATE payment SET customer_name = ? WHERE order_id = ?", (text, order_id))
    conn.close()


def test_hostile_text_renders_literally_on_every_page(page: Page, demo_stack: DemoStack, tracker: str,
                                                      tmp_path: Path) -> None:
    login(page, demo_stack, "admin@souq.demo")
    order_id = _create_and_pay(page, demo_stack, tracker, tmp_path)
    _refund_with_corpus(page, demo_stack, tracker, tmp_path, order_id)
    _as_gateway_data(demo_stack, order_id, corpus(tracker, bidi=True))
    _visit_all(page, demo_stack, tracker, tmp_path, "admin", order_id)

    page.context.clear_cookies()
    login(page, demo_stack, "finance@souq.demo")
    _visit_all(page, demo_stack, tracker, tmp_path, "finance", order_id)

    assert _Tracker.hits == [], f"the tracker image was fetched: {_Tracker.hits}"
