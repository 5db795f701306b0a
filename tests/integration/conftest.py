"""Integration fixtures: a real sandbox (uvicorn on a free loopback port, its own SQLite file) per test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def fast_config(db_path: Path, **overrides: object) -> SandboxConfig:
    """Sandbox settings for tests: quick refunds and webhook retries, a high status limit."""
    values: dict[str, object] = {"refund_delay_seconds": 1.0, "status_limit_per_minute": 10_000,
                                 "webhook_backoff_seconds": 0.05}
    values.update(overrides)
    return SandboxConfig(db_path=db_path, **values)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A fresh sandbox with its own database; change settings with ``sandbox.configure(...)``."""
    with serve_in_thread(fast_config(tmp_path / "sandbox.db")) as running:
        yield running


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright hook: Debian's chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


TOKEN = "jtest123"
WL_TOKEN = "e66a94d579cf75fba327ff716ad68c53aae11528"


def dumps(body: Any) -> str:
    """JSON with ``Decimal`` values written as JSON numbers (``12.500``), as the gateway expects amounts."""
    text = json.dumps(body, default=lambda value: f"__decimal__{value}__")
    return re.sub(r'"__decimal__([-0-9.]+)__"', r"\1", text)


def charge_body(order_id: str = "ORD-1001", amount: Decimal | str | int = Decimal("12.500"),
                **overrides: Any) -> dict[str, Any]:
    """A valid ``POST charge`` body (contract §4.1); ``overrides`` replace top-level keys."""
    body: dict[str, Any] = {
        "order": {"id": order_id, "description": "Web order 1001", "currency": "KWD", "amount": amount},
        "language": "en",
        "reference": {"id": "REF1001"},
        "customer": {"uniqueId": "CUST42", "name": "Sara", "email": "sara@example.com", "mobile": "+96550000000"},
        "products": [{"name": "Mug", "description": "Blue mug", "price": Decimal("2.500"), "quantity": 5}],
        "tokens": {},
        "returnUrl": "https://shop.example/pay/return?o=1001",
        "cancelUrl": "https://shop.example/pay/cancel?o=1001",
        "notificationUrl": "http://127.0.0.1:9/pay/webhook?o=1001",  # nothing listens: fails fast
    }
    body.update(overrides)
    return body


class Api:
    """Plain httpx calls to the sandbox's gateway API (not the dashboard's gateway client)."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.http = httpx.Client(base_url=running.api_base, timeout=10)

    def post(self, path: str, body: Any, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        return self.http.post(path, content=dumps(body), headers=headers | {"Content-Type": "application/json"})

    def get(self, path: str, token: str | None = TOKEN, **params: str) -> httpx.Response:
        headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        return self.http.get(path, params=params, headers=headers)

    def charge(self, token: str = TOKEN, **kwargs: Any) -> dict[str, Any]:
        """Create a charge (asserting 201) and return ``data``."""
        response = self.post("charge", charge_body(**kwargs), token=token)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def status(self, track_id: str | None = None, **query: str) -> dict[str, Any]:
        """``data.transaction`` (asserting 201)."""
        response = self.get(f"get-payment-status/{track_id}" if track_id else "get-payment-status", **query)
        assert response.status_code == 201, response.text
        tx: dict[str, Any] = response.json()["data"]["transaction"]
        return tx

    def paid(self, order_id: str = "ORD-1001", method: str = "knet", **kwargs: Any) -> dict[str, Any]:
        """A captured payment: charge + completion; returns the admin completion answer."""
        data = self.charge(order_id=order_id, **kwargs)
        return self.running.complete(data["session_id"], method=method, wait_webhook=False)


@pytest.fixture
def api(sandbox: RunningSandbox) -> Iterator[Api]:
    """Gateway API calls against the ``sandbox`` fixture."""
    client = Api(sandbox)
    yield client
    client.http.close()
