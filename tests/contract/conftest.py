"""Where the contract tests point: our sandbox (default, in CI), or the real UPayments sandbox host.

``SOUQ_CONTRACT_BASE_URL=https://sandboxapi.upayments.com/api/v1/`` points every test at that host (token from
``SOUQ_CONTRACT_TOKEN``, else the public sandbox key ``jtest123``, contract §1.2). Tests that need a payment made
on the hosted page, or the sandbox's admin API, are skipped there: a person has to pay on a real hosted page.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.server import RunningSandbox, serve_in_thread
from tests.integration.conftest import fast_config

BASE_ENV, TOKEN_ENV = "SOUQ_CONTRACT_BASE_URL", "SOUQ_CONTRACT_TOKEN"
PUBLIC_TOKEN = "jtest123"  # the public sandbox key (contract §1.2)


def dumps(body: Any) -> bytes:
    """JSON with Decimal amounts written as numbers (``12.500``), as the plugins send them."""
    text = json.dumps(body, default=lambda v: f"__decimal__{v}__")
    return re.sub(r'"__decimal__([-0-9.]+)__"', r"\1", text).encode()


@dataclass
class Target:
    """The gateway under test: its API base, token, and (only for our sandbox) the running sandbox."""

    base: str
    token: str
    local: RunningSandbox | None

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=20, headers={
            "Accept": "application/json", "User-Agent": "SouqDesk-contract-tests/1"})  # F13: always a User-Agent

    def post(self, path: str, body: Any, *, token: str | None = "") -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        bearer = self.token if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return self.http.post(path, content=dumps(body), headers=headers)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.token}"})

    def sandbox(self) -> RunningSandbox:
        """The local sandbox (its admin API pays and configures); skips against the real host."""
        if self.local is None:
            pytest.skip("needs a payment made by a person on the real hosted page")
        return self.local


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    base = os.environ.get(BASE_ENV, "").strip()
    if base:
        found = Target(base.rstrip("/") + "/", os.environ.get(TOKEN_ENV, "").strip() or PUBLIC_TOKEN, None)
        yield found
        found.http.close()
        return
    with serve_in_thread(fast_config(tmp_path / "contract.db")) as running:
        found = Target(running.api_base, PUBLIC_TOKEN, running)
        yield found
        found.http.close()


def plugin_charge(amount: Decimal = Decimal("10.000"), **extra: Any) -> dict[str, Any]:
    """A charge exactly as the production plugins send it (§18 F1: order{id, amount, currency}, no description)."""
    order_id = f"CT{uuid.uuid4().hex[:18].upper()}"
    body: dict[str, Any] = {
        "order": {"id": order_id, "amount": amount, "currency": "KWD"},
        "language": "en",
        "reference": {"id": order_id},
        "tokens": {},
        "returnUrl": "https://shop.example/pay/return?wc_order_id=55",
        "cancelUrl": "https://shop.example/pay/cancel?wc_order_id=55",
        "notificationUrl": "http://127.0.0.1:9/webhooks/upayments?wc_order_id=55",
        "plugin": {"src": "woocommerce"},
    }
    return body | extra
