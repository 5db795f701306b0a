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
from services.models import Payment, Refund, RefundState
from services.permissions import Actor, Role
from services.refunds import request_refund
from tests.e2e.conftest import DemoStack, login, open_page, wait_idle
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


def _paid_link(cluster: Cluster, engine: Engine, client: UPaymentsClient, amount: str) -> Payment:
    """A link created and paid by KNET on the sandbox (its webhook reaches the servers through the proxy)."""
    outcome = create_link(engine, client, Actor("sales@souq.demo", Role.SALES), request=LinkRequest(
        idempotency_key=new_idempotency_key(), amount=amount, description="Raced refund", customer_name="Reem",
        customer_phone="55123456"), settings_like=LinkSettings(cluster.proxy))
    with Session(engine) as session:
        created = session.exec(select(Payment).where(col(Payment.order_id) == outcome.order_id)).one()
    httpx.post(f"{cluster.sandbox}/__sandbox/complete", timeout=30, json={
        "session_id": created.session_id, "invoice_id": created.invoice_id, "method": "knet",
        "wait_webhook": True}).raise_for_status()
    assert _paid(engine, [outcome.order_id], 60) == ["paid"]
    with Session(engine) as session:
        return session.exec(select(Payment).where(col(Payment.order_id) == outcome.order_id)).one()


def _refunds(engine: Engine, payment: Payment) -> list[Refund]:
    with Session(engine) as session:
        return list(session.exec(select(Refund).where(col(Refund.payment_pk) == payment.id)
                                 .order_by(col(Refund.id))).all())


def _gateway_refunds(cluster: Cluster, payment: Payment) -> list[dict[str, object]]:
    """Every create-refund the gateway accepted for this payment, counted on its side."""
    answer = httpx.get(f"{cluster.sandbox}/__sandbox/payments/{payment.order_id}", timeout=10)
    answer.raise_for_status()
    refunds: list[dict[str, object]] = answer.json()["refunds"]
    return refunds


def _settled(page: Page) -> None:
    """The click's run is over: the dialog is gone and the script is idle (an outcome or an error shows)."""
    expect(page.get_by_test_id("stDialog")).to_have_count(0, timeout=60_000)
    wait_idle(page)


def test_one_refund_reaches_the_gateway_when_two_servers_race_for_it(browser: Browser, cluster: Cluster) -> None:
    """Two people on two app servers confirm a refund of the same payment at the same moment, then two approvers
    on two servers approve the same waiting refund at the same moment: the gateway gets one create-refund each.

    The refund dialog's idempotency key lives in one browser's Streamlit session, which the proxy keeps on one
    server, so the same key never reaches two servers from the UI; what two servers can race for is the same
    money (the payment row, locked while the refundable amount is checked) and the same refund row (the approval
    claim). The same-key twins from two processes on one PostgreSQL are tests/integration/test_money_twins.py.
    """
    stack = _stack(cluster)
    live = [i for i in range(len(cluster.apps)) if cluster.health(i) is not None]
    assert len(live) >= 2, "two app servers must be up"
    a, b = live[0], live[1]
    engine = make_engine(cluster.database_url)
    client = UPaymentsClient(f"{cluster.sandbox}/api/v1/", "jtest123", status_limiter=DatabaseLimiter(engine, RATE))
    small = _paid_link(cluster, engine, client, "7.250")
    large = _paid_link(cluster, engine, client, "150.000")  # above the default 100.000 KWD approval threshold
    contexts = [_pinned(browser, cluster, a), _pinned(browser, cluster, b)]
    try:
        # 1. finance on server a and admin on server b each confirm a full refund of the same payment.
        pages = [context.new_page() for context in contexts]
        for page, email in zip(pages, ("finance@souq.demo", "admin@souq.demo"), strict=True):
            login(page, stack, email)
            page.goto(f"{cluster.proxy}/refunds?payment={small.order_id}")
            wait_idle(page)
            expect(page.get_by_role("heading", name=f"Payment {small.order_id}")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Review refund").click()
            expect(page.get_by_test_id("stDialog")).to_contain_text("7.250 KWD", timeout=30_000)
        assert [cluster.server_of_cookie(cluster.cookie_for(i)) for i in (a, b)] == [a, b]
        buttons = [page.get_by_test_id("stDialog").get_by_role("button", name="Confirm refund") for page in pages]
        for button in buttons:  # both clicks leave before either server has answered
            button.click(no_wait_after=True)
        for page in pages:
            _settled(page)
        sent = _gateway_refunds(cluster, small)
        ours = [r for r in _refunds(engine, small) if r.state != RefundState.FAILED]
        said = [" | ".join(page.get_by_test_id("stAlert").all_inner_texts()) for page in pages]
        print(f"\n[multi] same payment refunded from servers {a} and {b}: {len(sent)} gateway call(s), "
              f"{len(ours)} refund(s) recorded ({[r.requested_by for r in ours]}); the two people were told: {said}")
        # one person's refund went out; the other was told why theirs did not (nothing is silently dropped)
        assert sorted("initiated with UPayments" in text for text in said) == [False, True], said
        loser = next(text for text in said if "initiated with UPayments" not in text)
        assert "is being sent" in loser or "still refundable" in loser, loser  # overlapping, or just after
        assert len(sent) == 1 and len(ours) == 1 and ours[0].amount_fils == small.amount_fils
        assert ours[0].state in {RefundState.INITIATED, RefundState.REFUNDED}

        # 2. the same waiting refund approved by admin on server a and finance2 on server b at once.
        waiting = request_refund(engine, client, Actor("finance@souq.demo", Role.FINANCE), payment_pk=large.id or 0,
                                 amount_fils=large.amount_fils, reason="customer_request",
                                 idempotency_key=f"rf-race-{large.order_id}")
        assert waiting.state == RefundState.PENDING_APPROVAL
        for n, (server, email) in enumerate(((a, "admin@souq.demo"), (b, "finance2@souq.demo"))):
            contexts[n].close()  # fresh browsers: the requester (finance) may not approve their own request
            contexts[n] = _pinned(browser, cluster, server)
            pages[n] = contexts[n].new_page()
            login(pages[n], stack, email)
            pages[n].goto(f"{cluster.proxy}/refunds")
            wait_idle(pages[n])
        approve = [page.locator(f".st-key-refund_approve_{waiting.id}").get_by_role("button", name="Approve and send")
                   for page in pages]
        for button in approve:
            expect(button).to_be_visible(timeout=30_000)
        for button in approve:
            button.click(no_wait_after=True)
        for page in pages:
            wait_idle(page)
        deadline = time.monotonic() + 60
        while _refunds(engine, large)[0].state in {RefundState.PENDING_APPROVAL, RefundState.SENDING} \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        approved = _refunds(engine, large)
        sent = _gateway_refunds(cluster, large)
        said = [" | ".join(page.get_by_test_id("stAlert").all_inner_texts()) for page in pages]
        print(f"[multi] one waiting refund approved on servers {a} and {b}: {len(sent)} gateway call(s), "
              f"approved by {approved[0].approved_by}; the two approvers were told: {said}")
        assert len(sent) == 1 and len(approved) == 1
        assert approved[0].state in {RefundState.INITIATED, RefundState.REFUNDED}
        assert approved[0].approved_by in {"admin@souq.demo", "finance2@souq.demo"}
    finally:
        for context in contexts:
            context.close()
        client.close()
        engine.dispose()


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
    open_page(admin, "Webhook inbox", "Webhook inbox")
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


def test_the_image_renders_the_template_as_the_tests_do_and_nginx_accepts_it(tmp_path: Path) -> None:
    """The nginx image fills the template with envsubst, limited to the variables that are set (so nginx's own
    ``$variables`` stay): the same file as the tests' rendering, and one Debian's nginx accepts (``nginx -t``)."""
    import os
    import shutil
    import subprocess

    from bench.cluster import NGINX, TEMPLATE, nginx_main_config, render_nginx

    envsubst = shutil.which("envsubst")
    if envsubst is None or not nginx_available():
        pytest.skip("envsubst (gettext-base) or nginx is not installed")
    values = {"SOUQ_APP1": "127.0.0.1:8501", "SOUQ_APP2": "127.0.0.1:8502", "SOUQ_APP3": "127.0.0.1:8503",
              "SOUQ_LISTEN": "127.0.0.1:8080"}
    shell_format = " ".join(f"${{{name}}}" for name in values)  # what the image's 20-envsubst script passes
    by_image = subprocess.run([envsubst, shell_format], input=TEMPLATE.read_text(), capture_output=True, text=True,
                              env=os.environ | values, check=True).stdout
    assert by_image == render_nginx(list(values.values())[:3], values["SOUQ_LISTEN"])
    site = tmp_path / "site.conf"
    site.write_text(by_image)
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_config(tmp_path, site))
    checked = subprocess.run([NGINX, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
