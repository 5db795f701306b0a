"""Browser: finance opens Settlements, sees yesterday's expected vs deposited and the demo's overdue day, uploads
a bank statement (built by tests/data/bank_statement.py, the generator of the shipped samples, for this demo's
dates) and sees it matched; a viewer reads the page without the upload."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from services import calendar
from services.db import make_engine, sqlite_url
from services.money import format_money
from services.settlements.report import settlement
from services.settlements.schedule import demo_held_capture_day, expected_deposit_day
from services.timeutil import kuwait_today
from tests.data import bank_statement
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e


def test_finance_sees_deposits_overdue_day_and_matches_a_statement(page: Page, browser: Browser,
                                                                   demo_stack: DemoStack, tmp_path: Path) -> None:
    today = kuwait_today()
    yesterday = today - timedelta(days=1)
    engine = make_engine(sqlite_url(demo_stack.data_dir / "souq.db"))
    try:
        days = settlement(engine, today - timedelta(days=14), calendar.next_business_day(today), today=today,
                          overdue_after=2).days
        lines = bank_statement.build(engine, today - timedelta(days=14), today, today)
    finally:
        engine.dispose()
    mine = next(d for d in days if d.captured_from <= yesterday <= d.captured_to)
    assert mine.expected_fils > 0
    statement = tmp_path / "statement.csv"
    statement.write_bytes(bank_statement.csv_bytes(lines))
    held_due = expected_deposit_day(demo_held_capture_day(today))

    login(page, demo_stack, "finance@souq.demo")
    page.goto(f"{demo_stack.app}/settlements")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Settlements")).to_be_visible(timeout=30_000)
    info = page.get_by_test_id("stAlertContentInfo").filter(has_text="Yesterday's money")
    expect(info).to_contain_text(f"due {expected_deposit_day(yesterday).strftime('%a %d %b %Y')}")
    expect(info).to_contain_text(f"expected {format_money(mine.expected_fils)}")
    expect(info).to_contain_text(f"deposited {format_money(mine.deposited_fils)}")
    overdue = page.get_by_test_id("stAlertContentWarning").filter(has_text="Overdue")
    expect(overdue).to_contain_text(f"Overdue: the deposit of {held_due.strftime('%a %d %b %Y')}")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.screenshot(path=str(demo_stack.data_dir / "settlements-top.png"))

    page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(str(statement))
    page.get_by_role("button", name="Match statement").click()
    wait_idle(page)
    result = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Statement read")
    expect(result).to_be_visible(timeout=30_000)
    deposited_days = sum(1 for d in days if d.deposited_fils > 0 and d.pending_payments == 0
                         and d.day <= today and d.day >= today - timedelta(days=14))
    # Every fully deposited day is on the statement; one of them is 5.000 KWD short, one is split in two.
    expect(result).to_contain_text(f"{deposited_days:,} matched, 1 partly matched, 1 unmatched")
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(demo_stack.data_dir / "settlements-matched.png"))

    viewer = browser.new_page()
    try:
        login(viewer, demo_stack, "viewer@souq.demo")
        viewer.goto(f"{demo_stack.app}/settlements")
        wait_idle(viewer)
        expect(viewer.get_by_role("heading", name="Settlements")).to_be_visible(timeout=30_000)
        expect(viewer.get_by_text("Finance and admins can upload")).to_be_visible()
        expect(viewer.get_by_test_id("stFileUploader")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Download CSV for the accountant")).to_have_count(0)
    finally:
        viewer.close()
