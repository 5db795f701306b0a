"""Webhook delivery to a tiny local receiver, persistence across a restart, demo seeding, the CLI runner."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from sandbox.server import RunningSandbox, serve_in_thread
from services.demo.data import generate
from services.money import format_amount
from tests.integration.conftest import Api, fast_config

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Receiver:
    """A merchant webhook endpoint: records every request, answers with the queued statuses (then 200)."""

    url: str
    answers: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append((self.path, dict(self.headers), body))
            code = state.answers.pop(0) if state.answers else 200
            payload = json.dumps({"success": code == 200, "message": "Success" if code == 200 else "busy",
                                  "data": None}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_form_encoded_webhook_keeps_query_and_retries(api: Api, sandbox: RunningSandbox, receiver: Receiver) -> None:
    receiver.answers = [500]  # the first delivery fails, the retry succeeds
    data = api.charge(notificationUrl=f"{receiver.url}/hooks/upay?shop=7")
    done = sandbox.complete(data["session_id"], method="apple-pay", wait_webhook=True)
    assert done["webhook"]["delivered"] is True and done["webhook"]["attempts"] == 2
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[-1]
    assert path == "/hooks/upay?shop=7"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert fields["result"] == "CAPTURED" and fields["track_id"] == done["track_id"]
    assert fields["order_id"] == "ORD-1001" and fields["refund_order_id"] == done["order_id"]
    assert fields["payment_type"] == "card" and "payment_method" not in fields  # §18 F7; no convenience
    tx = api.status(done["track_id"])
    assert tx["notify_url_called"] is True
    assert tx["notify_url_response"] == {"success": True, "message": "Success", "data": None}


def test_json_webhook_with_signature_and_failed_delivery(api: Api, sandbox: RunningSandbox,
                                                          receiver: Receiver) -> None:
    sandbox.configure(webhook_encoding="json", webhook_hmac_secret="s3cret", webhook_retries=2)
    data = api.charge(notificationUrl=f"{receiver.url}/hook")
    done = sandbox.complete(data["session_id"], method="knet", outcome="cancelled", wait_webhook=True)
    _, headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["result"] == "CANCELED"
    assert headers["X-Sandbox-Signature"] == hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert done["webhook"]["delivered"] is True

    receiver.answers = [503, 503, 503]
    other = api.charge(order_id="ORD-2", notificationUrl=f"{receiver.url}/hook")
    failed = sandbox.complete(other["session_id"], method="knet", wait_webhook=True)
    assert failed["webhook"]["delivered"] is False and failed["webhook"]["attempts"] == 3
    tx = api.status(failed["track_id"])
    assert tx["notify_url_called"] is False and tx["notify_url_response"]["message"] == "busy"

    dead = api.charge(order_id="ORD-3", notificationUrl="http://127.0.0.1:9/nothing-listens")
    unreachable = sandbox.complete(dead["session_id"], method="knet", wait_webhook=True)
    assert unreachable["webhook"]["delivered"] is False
    assert "ConnectError" in api.status(unreachable["track_id"])["notify_url_response"]["error"]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with serve_in_thread(fast_config(db, refund_delay_seconds=3600)) as first:
        api = Api(first)
        done = api.paid()
        refund = api.post("create-refund", {"orderId": done["order_id"], "totalPrice": 2}).json()["data"]
        first.configure(merchant_balance_fils=123_000)
    with serve_in_thread(fast_config(db)) as second:
        api = Api(second)
        tx = api.status(done["track_id"])
        assert tx["result"] == "CAPTURED" and tx["order_id"] == done["order_id"]
        [item] = api.get(f"check-refund/{done['order_id']}").json()["data"]["refund"]
        assert set(item) == {"order_id", "is_refunded", "refunded_date"}  # §18 F2
        assert item["order_id"] == refund["orderId"] and item["is_refunded"] is False
        assert second.payment("ORD-1001")["balance_fils"] == 123_000  # the stored balance wins over config


def test_demo_seeding_agrees_with_the_generator(tmp_path: Path) -> None:
    anchor = date(2026, 3, 15)
    config = fast_config(tmp_path / "demo.db", demo_anchor=anchor, demo_count=300,
                         conveniences=frozenset({"payment_method"}))
    demo = list(generate(anchor, count=300))
    with serve_in_thread(config) as running:
        api = Api(running)
        for payment in (demo[0], demo[150], demo[-1]):
            tx = api.status(payment.track_id)
            assert tx["merchant_requested_order_id"] == payment.merchant_order_id
            assert tx["order_id"] == payment.upay_order_id and tx["payment_id"] == payment.payment_id
            assert tx["result"] == payment.result and tx["payment_method"] == payment.src
            assert tx["total_price"] == format_amount(payment.amount_fils)
        refunded = next(p for p in demo if p.refunds)
        [item] = api.get(f"check-refund/{refunded.upay_order_id}").json()["data"]["refund"]
        assert item["order_id"].endswith(refunded.refunds[0].refund_order_id)  # §18 F3
    with serve_in_thread(fast_config(tmp_path / "demo.db", demo_anchor=anchor, demo_count=300)) as again:
        count = Api(again).get(f"get-payment-status/{demo[0].track_id}")
        assert count.status_code == 201  # a second start skips seeding and keeps the data


def test_cli_runner_serves_the_demo(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(tmp_path / "cli.db"),
           "--demo-anchor", "2026-03-15", "--demo-count", "50", "--status-limit", "5", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/__sandbox/health").json() == {"ok": True}:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "sandbox CLI did not start"
            time.sleep(0.1)
        track = next(generate(date(2026, 3, 15), count=50)).track_id
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/get-payment-status/{track}",
                           headers={"Authorization": "Bearer jtest123"})
        assert answer.status_code == 201 and answer.json()["data"]["transaction"]["track_id"] == track
        config = httpx.get(f"http://127.0.0.1:{port}/__sandbox/config").json()["config"]
        assert config["status_limit_per_minute"] == 5
    finally:
        proc.terminate()
        proc.wait(10)
    helptext = subprocess.run([sys.executable, "-m", "sandbox", "--help"], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert "--demo-anchor" in helptext and "--refund-delay" in helptext
