"""Three app servers on one PostgreSQL behind Debian's nginx (deploy/'s template), driven in headless Chromium.

The servers start together on an empty database (the migrations run once); staff log in through the proxy;
a link created on one server and paid on the sandbox page shows paid to a person on another server; the server
holding a session is killed and the person carries on elsewhere; the sync leader is killed while the proxy is
down (every webhook lost) and another server takes over and catches the payments up. Throughout, the gateway
(counted at its door) never sees more status look-ups than the merchant's budget in any 60 s window.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bench.cluster import Cluster, nginx_available, running_cluster
from bench.multi import LinkSettings, max_in_window
from services import migrate
from services.db import make_engine
from services.gateway import UPaymentsClient
from services.gateway.shared_limiter import DatabaseLimiter
from services.links import LinkRequest, create_link, new_idempotency_key
from services.models import Payment
from services.permissions import Actor, Role
from tests.e2e.conftest import DemoStack, login, wait_idle
from tests.postgres import postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
RATE = 60  # the merchant's status budget a minute in this test (shared by the three servers)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not nginx_available():
        pytest.skip("Debian's nginx is not installed (scripts/test installs it)")
    with postgres_database("multi", schema=False) as engine:  # empty: the three servers migrate it together
        url = engine.url.render_as_string(hide_password=False)
        with running_cluster(url, tmp_path_factory.mktemp("multi"), status_rate=RATE, sync_interval=2) as running:
            yield running


def _pinned(browser: Browser, cluster: Cluster, server: int) -> BrowserContext:
    """A browser whose sticky cookie the proxy maps to app server ``server``."""
    context = browser.new_context()
    context.add_cookies([{"name": "souq_server", "value": cluster.cookie_for(server), "url": cluster.proxy}])
    return context


def _stack(cluster: Cluster) -> DemoStack:
    return DemoStack(app=cluster.proxy, sandbox=cluster.sandbox, oidc=cluster.oidc, data_dir=cluster.root)


def _create_link(page: Page, amount: str, what: str) -> str:
    """Fill the links page's form; the link's address."""
    expect(page.get_by_role("heading", name="Payment links")).to_be_visible(timeout=30_000)
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Amount").fill(amount)
    form.get_by_role("textbox", name="Customer mobile (WhatsApp)").fill("55123456")
    form.get_by_role("textbox", name="What is it for?").fill(what)
    form.get_by_role("textbox", name="Customer name").fill("Huda")
    form.get_by_role("button", name="Create link").click()
    outcome = page.locator(".st-key-link_outcome")
    expect(outcome).to_contain_text("The link is ready to share.", timeout=30_000)
    return outcome.get_by_test_id("stCode").locator("code").inner_text().strip()


def _paid(engine: Engine, orders: list[str], timeout: float) -> list[str]:
    """The statuses of ``orders`` once all are paid, or when ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            found = dict(session.exec(select(Payment.order_id, Payment.status)
                                      .where(col(Payment.order_id).in_(orders))).all())
        statuses = [str(found.get(o)) for o in orders]
        if all(s == "paid" for s in statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def test_three_servers_behind_nginx_share_logins_payments_the_budget_and_the_sync(
        browser: Browser, cluster: Cluster) -> None:
    stack = _stack(cluster)
    engine = make_engine(cluster.database_url)
    with engine.connect() as conn:  # three servers started at once on an empty database: migrated once, to head
        assert migrate.current_revision(conn) == migrate.head_revision()
    assert httpx.get(f"{cluster.proxy}/api/ready", timeout=10).json()["ready"] is True
    assert len(cluster.leaders()) == 1, "exactly one server leads the background sync"

    # A sales person on server 0 creates a link; the customer pays it on the sandbox's page.
    sales_ctx, admin_ctx = _pinned(browser, cluster, 0), _pinned(browser, cluster, 1)
    sales = sales_ctx.new_page()
    login(sales, stack, "sales@souq.demo")
    link = _create_link(sales, "12.5", "Blue abaya, size M")
    assert link.startswith(cluster.sandbox)
    customer = sales_ctx.new_page()
    customer.goto(link)
    customer.get_by_role("button", name="KNET").click()
    customer.get_by_role("button", name="Pay 12.500 KWD").click()
    expect(customer).to_have_url(re.compile(re.escape(cluster.proxy) + r"/?pay/return\?o=SD-"), timeout=20_000)
    expect(customer.locator("p[data-kind]")).to_have_text(re.compile(r"Thank you, your payment of 12\.500 KWD"),
                                                          timeout=30_000)
    order_id = re.search(r"o=(SD-\d{6}-[A-Z2-7]{10})", customer.url).group(1)  # type: ignore[union-attr]
    customer.close()

    # An admin on server 1 sees it paid: its verified webhook in the inbox, and the receipt.
    admin = admin_ctx.new_page()
    login(admin, stack, "admin@souq.demo")
    admin.get_by_test_id("stSidebarNav").get_by_role("link", name="Webhook inbox", exact=True).click()
    expect(admin.get_by_role("heading", name="Webhook inbox")).to_be_visible(timeout=30_000)
    wait_idle(admin)
    admin.get_by_label("Order or track id").fill(order_id)
    admin.get_by_label("Order or track id").press("Enter")
    wait_idle(admin)
    expect(admin.get_by_text("of 1, newest first", exact=False).or_(admin.get_by_text("of 2, newest first",
                                                                                       exact=False))
           ).to_be_visible(timeout=30_000)
    admin.screenshot(path=str(cluster.root / "multi-inbox-on-server-1.png"), full_page=True)
    receipt = admin_ctx.new_page()
    receipt.goto(f"{cluster.proxy}/pay/receipt?o={order_id}")
    expect(receipt.locator("section.receipt")).to_contain_text("12.500 KWD", timeout=30_000)
    receipt.close()
    assert _paid(engine, [order_id], 30) == ["paid"]

    # Server 0 dies with the sales person's session: they land on another server and carry on.
    cluster.kill_app(0)
    sales.reload()
    login_button = sales.get_by_role("button", name="Log in with your company account")
    heading = sales.get_by_role("heading", name="Payment links")
    expect(login_button.or_(heading)).to_be_visible(timeout=60_000)
    relogin = login_button.is_visible()
    print(f"\n[multi] after its server died the sales person {'logged in again' if relogin else 'was still logged in'}")
    if relogin:
        login(sales, stack, "sales@souq.demo")
    second = _create_link(sales, "3", "Scarf after the server died")
    assert second.startswith(cluster.sandbox)
    sales.screenshot(path=str(cluster.root / "multi-carried-on.png"), full_page=True)

    # The sync leader dies while the proxy is down: webhooks are lost, the new leader catches the payments up.
    leader = cluster.wait_leader()
    httpx.post(f"{cluster.sandbox}/__sandbox/config", json={"webhook_retries": 0}, timeout=10).raise_for_status()
    orders = _links_paid_without_webhooks(cluster, engine, count=2, kill=leader)
    cluster.start_nginx()
    new_leader = cluster.wait_leader(60, not_=leader)
    assert new_leader != leader and cluster.health(leader) is None
    assert _paid(engine, orders, 90) == ["paid", "paid"], "the new leader's sync did not catch the payments up"
    assert cluster.leaders() == [new_leader]

    times = [row["t"] for row in cluster.lookups() if row["status"] != 429]
    assert 0 < max_in_window(times) <= RATE, "the servers together went over the merchant's status budget"
    sales_ctx.close()
    admin_ctx.close()
    engine.dispose()


def _links_paid_without_webhooks(cluster: Cluster, engine: Engine, *, count: int, kill: int) -> list[str]:
    """Create ``count`` links, kill server ``kill`` and stop the proxy, then pay them on the sandbox (their
    webhooks find nobody, no customer returns): only a live leader's sync pass can find them; the order ids."""
    client = UPaymentsClient(f"{cluster.sandbox}/api/v1/", "jtest123", status_limiter=DatabaseLimiter(engine, RATE))
    orders = []
    with client:
        for n in range(count):  # created before the proxy stops (the links page would need it)
            outcome = create_link(engine, client, Actor("sales@souq.demo", Role.SALES), request=LinkRequest(
                idempotency_key=new_idempotency_key(), amount=f"{n + 2}.250", description="Paid meanwhile",
                customer_name="Noura", customer_phone="55123456"), settings_like=LinkSettings(cluster.proxy))
            orders.append(outcome.order_id)
    cluster.kill_app(kill)
    cluster.stop_nginx()
    with Session(engine) as session:
        ids = session.exec(select(Payment.session_id, Payment.invoice_id)
                           .where(col(Payment.order_id).in_(orders))).all()
    for session_id, invoice_id in ids:
        done = httpx.post(f"{cluster.sandbox}/__sandbox/complete", timeout=30, json={
            "session_id": session_id, "invoice_id": invoice_id, "method": "knet", "wait_webhook": True}).json()
        assert done.get("webhook", {}).get("delivered") is False, done
    return orders


def test_the_proxy_config_is_the_deploy_template() -> None:
    """The test's nginx runs deploy/nginx.conf.template itself (only the upstream addresses are filled in)."""
    from bench.cluster import TEMPLATE, render_nginx

    rendered = render_nginx(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], "127.0.0.1:9")
    assert Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf.template" == TEMPLATE
    assert "hash $souq_sticky consistent;" in rendered and "server 127.0.0.1:3 " in rendered
    assert "$cookie_souq_server" in rendered and "${SOUQ_" not in rendered
