"""Log in through the local OIDC provider as each role and see exactly its pages; log out; strangers get no access."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.navigation import PAGES
from services.permissions import MATRIX, Role
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e

ROLE_USERS = {
    Role.ADMIN: "admin@souq.demo",
    Role.FINANCE: "finance@souq.demo",
    Role.SALES: "sales@souq.demo",
    Role.VIEWER: "viewer@souq.demo",
}


@pytest.mark.parametrize("role", list(ROLE_USERS), ids=[r.value for r in ROLE_USERS])
def test_each_role_sees_exactly_its_pages(page: Page, demo_stack: DemoStack, role: Role) -> None:
    login(page, demo_stack, ROLE_USERS[role])
    sidebar = page.get_by_test_id("stSidebar")
    # dashboard.safe.md puts an invisible word joiner after the "@" so an address never becomes a mailto link
    expect(sidebar).to_contain_text(re.compile(re.escape(ROLE_USERS[role]).replace("@", "@\u2060?")))
    expect(sidebar).to_contain_text(f"Role: {role.value}")
    expect(page.get_by_test_id("test-ribbon").first).to_contain_text("no real money")
    nav = page.get_by_test_id("stSidebarNav")
    for spec in PAGES:
        link = nav.get_by_role("link", name=spec.title, exact=True)
        if spec.needs in MATRIX[role]:
            expect(link).to_have_count(1)
        else:
            expect(link).to_have_count(0)
    page.screenshot(path=str(demo_stack.data_dir / f"nav-{role.value}.png"), full_page=True)


def test_page_outside_role_is_refused_politely_by_url(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, ROLE_USERS[Role.SALES])
    page.goto(f"{demo_stack.app}/audit")
    wait_idle(page)
    expect(page.get_by_text("Audit log is for admins — ask an admin for access.")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)  # no audit rows
    page.goto(f"{demo_stack.app}/refunds")  # a bookmark from a colleague in finance
    wait_idle(page)
    expect(page.get_by_text("Refunds is for finance, viewers and admins — ask an admin for access.")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.screenshot(path=str(demo_stack.data_dir / "refused-refunds.png"), full_page=True)
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Refunds")).to_have_count(0)


def test_the_first_page_answers_its_own_name_too(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, ROLE_USERS[Role.ADMIN])
    page.goto(f"{demo_stack.app}/links")
    wait_idle(page)
    expect(page.get_by_role("heading", name="New payment link")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_stranger_gets_no_access_page(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, "stranger@example.com")
    expect(page.get_by_role("heading", name="No access yet")).to_be_visible()
    expect(page.get_by_text("ask your admin", exact=False)).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def test_logout(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, ROLE_USERS[Role.VIEWER])
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Log in with your company account")).to_be_visible(timeout=30_000)
    assert "_streamlit_user" not in {c["name"] for c in page.context.cookies()}


def test_a_page_address_opened_directly_connects_at_the_first_try(page: Page, demo_stack: DemoStack) -> None:
    # dashboard.page_entry: without the base named, the frontend asks /transactions/_stcore/health first (404)
    login(page, demo_stack, ROLE_USERS[Role.FINANCE])
    asked: list[tuple[str, int]] = []
    page.on("response", lambda r: asked.append((r.url, r.status)) if "/_stcore/" in r.url else None)
    for path in ("transactions", "refunds?payment=no-such-order", "home"):
        asked.clear()
        page.goto(f"{demo_stack.app}/{path}")
        wait_idle(page)
        expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
        assert asked, "the frontend asked the server nothing"
        assert all(url.startswith(f"{demo_stack.app}/_stcore/") and status == 200 for url, status in asked), asked
    expect(page.get_by_role("heading", name="Payment links")).to_be_visible()  # /home opens the role's first page
