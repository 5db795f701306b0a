"""The staff dashboard in Arabic, right to left, in Debian's Chromium: an Arabic-preferring browser (locale
``ar-KW``) logs in, every page opens right to left with no exception, translated pages have Arabic headings,
the self-hosted font loads, hostile text stays text, and one click brings English back on the same page.

Screenshots of every page in both languages go to ``artifacts/i18n/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ROOT, DemoStack, wait_idle
from tests.e2e.test_hostile_text import _SCAN, MARKERS, corpus, tracker  # noqa: F401 - tracker is a fixture

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "artifacts" / "i18n"  # test-results/ is emptied by pytest-playwright at start
ADMIN = "admin@souq.demo"
# url path → translated yet? (the rest are on tests/unit/test_catalog.py's NOT_YET_TRANSLATED list)
PAGES = {"links": True, "transactions": True, "refunds": True, "reconciliation": True, "settlements": True,
         "analytics": True, "customers": True, "webhooks": True, "staff": True, "audit": True}
ARABIC = re.compile(r"[\u0600-\u06ff]")
FONT = "app/static/fonts/noto-sans-arabic-arabic-wght-normal.woff2"
# Our isolates (FSI/PDI) are allowed; any other direction control in the page text means data brought it.
FOREIGN_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u200e\u200f"
_ISOLATES = """() => {
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let open = 0;
    for (const ch of n.nodeValue) {
      if (ch === '\\u2068') { if (open) bad.push('nested isolate in ' + n.nodeValue.slice(0, 60)); open = 1; }
      if (ch === '\\u2069') { if (!open) bad.push('stray PDI in ' + n.nodeValue.slice(0, 60)); open = 0; }
    }
    if (open) bad.push('unclosed isolate in ' + n.nodeValue.slice(0, 60));
  }
  return bad;
}"""


def _db(stack: DemoStack) -> sqlite3.Connection:
    return sqlite3.connect(stack.data_dir / "souq.db", timeout=30)


@pytest.fixture
def fresh_admin(demo_stack: DemoStack) -> Iterator[str]:
    """The admin as on their first login (no language yet); their language is put back afterwards, so the
    other browser tests of this demo still see English."""
    with _db(demo_stack) as conn:
        before = conn.execute("SELECT language, digits FROM staff WHERE email = ?", (ADMIN,)).fetchone()
        conn.execute("UPDATE staff SET language = NULL, digits = 'latn' WHERE email = ?", (ADMIN,))
    conn.close()
    yield ADMIN
    with _db(demo_stack) as conn:
        conn.execute("UPDATE staff SET language = ?, digits = ? WHERE email = ?", (*before, ADMIN))
    conn.close()


def _login_by_key(page: Page, stack: DemoStack, email: str) -> None:
    """The real OIDC round trip, clicking the login button by its key (its label is in the browser's language)."""
    page.goto(stack.app)
    button = page.locator(".st-key-login button")
    expect(button).to_have_text("تسجيل الدخول بحساب الشركة", timeout=30_000)
    page.screenshot(path=str(SHOTS / "ar-login.png"), full_page=True)
    button.click()
    expect(page).to_have_url(re.compile(r"/oauth2/authorize\?"), timeout=20_000)
    page.get_by_role("button", name=email, exact=True).click()
    page.wait_for_url(re.compile(re.escape(stack.app)), timeout=30_000)
    expect(page.get_by_test_id("stApp")).to_be_visible(timeout=30_000)
    wait_idle(page)


def _visit(page: Page, stack: DemoStack, lang: str, path: str) -> None:
    page.goto(f"{stack.app}/{path}")
    wait_idle(page)
    page.wait_for_timeout(400)  # fragments settle
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr", timeout=15_000)
    assert page.get_by_test_id("stException").count() == 0, f"{lang} {path}: an exception is shown"
    page.screenshot(path=str(SHOTS / f"{lang}-{path}.png"), full_page=True)


def _refund_dialog(page: Page) -> None:
    """The payment open on the Refunds page, then its confirm dialog (opened, looked at, left with "Go back")."""
    expect(page.locator("h3").filter(has_text="الدفعة")).to_be_visible(timeout=15_000)
    page.screenshot(path=str(SHOTS / "ar-refunds-payment.png"), full_page=True)
    page.get_by_role("button", name="مراجعة الاسترداد").click()  # "Review refund"
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("تأكيد الاسترداد", timeout=15_000)
    assert not page.evaluate(_ISOLATES)
    page.screenshot(path=str(SHOTS / "ar-refunds-dialog.png"))
    dialog.locator(".st-key-refund_confirm_no button").click()
    expect(dialog).to_have_count(0, timeout=15_000)


def _charts(page: Page) -> None:
    """Each chart on its own (the page scrolls inside Streamlit: a full-page shot stops at the fold), and the
    volume chart's hover, in Arabic: titles, ticks and hover texts carry Arabic words, none of plotly's English."""
    charts = page.locator(".stPlotlyChart")
    expect(charts.first).to_be_visible(timeout=20_000)
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        chart.screenshot(path=str(SHOTS / f"ar-analytics-chart-{i}.png"))
        text = chart.inner_text()
        assert ARABIC.search(text), f"chart {i} has no Arabic: {text[:200]!r}"
        assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Sun|Mon|KWD)\b", text), text[:300]
    volume = charts.first
    volume.scroll_into_view_if_needed()
    box = volume.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6)
    expect(volume.locator(".hoverlayer")).to_contain_text("د.ك.", timeout=10_000)
    volume.screenshot(path=str(SHOTS / "ar-analytics-hover.png"))


def _one_customer(page: Page) -> None:
    """One customer's page, from the list's first "Open"."""
    page.locator(".st-key-cust_open_0 button").click()
    wait_idle(page)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=15_000)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(SHOTS / "ar-customers-one.png"), full_page=True)
    page.locator(".st-key-cust_back button").click()
    wait_idle(page)
    expect(page.locator("h1").first).to_have_text("العملاء", timeout=15_000)


def _heading(page: Page) -> str:
    return page.locator("h1").first.inner_text(timeout=15_000)


def test_arabic_browser_gets_a_right_to_left_dashboard_and_one_click_brings_english_back(
        browser: Browser, demo_stack: DemoStack, fresh_admin: str, tracker: str) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="ar-KW", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        _login_by_key(page, demo_stack, fresh_admin)
        with _db(demo_stack) as conn:  # the first login stored the browser's language on the staff row
            assert conn.execute("SELECT language FROM staff WHERE email = ?", (fresh_admin,)).fetchone() == ("ar",)
            order_id, = conn.execute("SELECT order_id FROM payment WHERE status = 'paid' ORDER BY id LIMIT 1"
                                     ).fetchone()
            # a customer name as the gateway could report it: Markdown, HTML, links and direction controls
            conn.execute("UPDATE payment SET customer_name = ? WHERE order_id = ?",
                         (corpus(tracker, bidi=True), order_id))
        conn.close()

        untranslated = []
        for path, translated in PAGES.items():
            _visit(page, demo_stack, "ar", path)
            if path == "analytics":
                _charts(page)
            elif path == "customers":
                _one_customer(page)
            heading = _heading(page)
            if translated:
                assert ARABIC.search(heading), f"{path}: heading {heading!r} is not Arabic"
            elif not ARABIC.search(heading):
                untranslated.append(path)
        assert untranslated == [p for p, t in PAGES.items() if not t and p != "links"] or untranslated == [
            p for p, t in PAGES.items() if not t], f"pages still in English: {untranslated}"

        # icons that point a way are mirrored: the audit page's "previous" chevron points right
        page.goto(f"{demo_stack.app}/audit")
        wait_idle(page)
        for key in ("audit_prev", "audit_next"):
            icon = page.locator(f".st-key-{key} [data-testid^='stIcon']").first
            expect(icon).to_have_class(re.compile("souq-flip"), timeout=10_000)
            style = icon.evaluate("e => [getComputedStyle(e).transform, getComputedStyle(e).display]")
            assert "matrix(-1" in style[0] and style[1] != "inline", f"{key}: icon not mirrored: {style}"

        # the layout: sidebar on the right, navigation in Arabic, the font served by the app itself
        sidebar = page.get_by_test_id("stSidebar").bounding_box()
        assert sidebar is not None and sidebar["x"] > 1400 / 2, f"sidebar is not on the right: {sidebar}"
        expect(page.get_by_test_id("stSidebarNav")).to_contain_text("سجل التدقيق")
        assert page.request.get(f"{demo_stack.app}/{FONT}").status == 200
        loaded = page.evaluate("async () => { await document.fonts.ready; return [...document.fonts]"
                               ".filter(f => f.family.includes('Souq Arabic') && f.status === 'loaded').length; }")
        assert loaded >= 1, "the self-hosted Arabic font did not load"

        # hostile text stays text in Arabic too; our own isolates are balanced, nobody else's controls appear
        for path in (f"transactions?order={order_id}", f"refunds?payment={order_id}", "webhooks", "audit"):
            page.goto(f"{demo_stack.app}/{path}")
            wait_idle(page)
            page.wait_for_timeout(400)
            bad = page.evaluate(_SCAN, [list(MARKERS), FOREIGN_BIDI, tracker])
            bad += page.evaluate(_ISOLATES)
            assert not bad, f"{path}: {bad}"
            if path.startswith("refunds"):
                _refund_dialog(page)

        # a right-to-left sentence keeps an id in one piece: the sidebar's e-mail sits in an isolate
        sidebar_text = page.get_by_test_id("stSidebar").inner_text().replace("\u2060", "")
        assert f"\u2068{fresh_admin}\u2069" in sidebar_text

        # Arabic-Indic digits are one switch away: the audit page's count and dates use them
        page.goto(f"{demo_stack.app}/audit")
        wait_idle(page)
        page.locator(".st-key-switch_digits label").first.click()
        wait_idle(page)
        expect(page.get_by_test_id("stCaptionContainer").filter(has_text="الصفحة").first).to_contain_text(
            re.compile("[٠-٩]+ قيد"), timeout=15_000)
        page.screenshot(path=str(SHOTS / "ar-audit-arabic-digits.png"), full_page=True)

        # one click back to English on the same page, query parameters kept, then every page in English
        page.goto(f"{demo_stack.app}/audit?probe=1")
        wait_idle(page)
        page.locator(".st-key-switch_language").get_by_role("button", name="English").click()
        wait_idle(page)
        expect(page.locator("html")).to_have_attribute("dir", "ltr", timeout=15_000)
        expect(page.locator("h1").first).to_have_text("Audit log", timeout=15_000)
        assert page.url.endswith("/audit?probe=1"), page.url
        for path in PAGES:
            _visit(page, demo_stack, "en", path)
            assert not ARABIC.search(_heading(page)), f"{path}: Arabic heading in English mode"
    finally:
        context.close()
