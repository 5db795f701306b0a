"""``/webhooks/upayments`` over real HTTP: verbs, size limit, form and JSON bodies, answers that never wait for
the gateway (the time they take: ``bench.webhooks_confirm``)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx

from services import sync
from services.gateway import parse_redirect
from tests.integration import test_sync as support
from tests.integration.test_sync import body_of, charge, events, row

receiver = support.receiver  # the fixture: routes under uvicorn beside a sandbox

CLOSED_URL = "http://127.0.0.1:9/webhooks/upayments"


def test_only_get_and_post_are_accepted(receiver) -> None:
    for method in ("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        answer = httpx.request(method, receiver.webhook_url, timeout=10)
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "GET, POST"
    assert events(receiver.engine) == []


def test_oversized_bodies_are_refused_before_storing(receiver) -> None:
    big = urlencode({"track_id": "T", "result": "CAPTURED", "pad": "x" * 4096}).encode()
    answer = httpx.post(receiver.webhook_url, content=big,
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code == 413 and answer.json()["success"] is False

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(8):
            yield b"y" * 512

    streamed = httpx.post(receiver.webhook_url, content=chunks(), timeout=10)
    assert streamed.status_code == 413
    assert events(receiver.engine) == []


def test_form_and_json_bodies_are_stored_parsed_and_verified(receiver) -> None:
    first = charge(receiver, notify=CLOSED_URL)
    second = charge(receiver, notify=CLOSED_URL)
    paid_first = receiver.complete(first)
    paid_second = receiver.complete(second, method="cc")
    form = body_of(paid_first["redirect_url"])
    as_json = json.dumps(parse_redirect(paid_second["redirect_url"]).raw).encode()
    # the gateway holds every status look-up unanswered: the route can answer only if it does not wait for one
    receiver.sandbox.set_faults(hold=True, paths=["get-payment-status"])
    answers = [httpx.post(receiver.webhook_url, content=form,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10),
               httpx.post(receiver.webhook_url, content=as_json, headers={"Content-Type": "application/json"},
                          timeout=10)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [e.processed_at for e in events(receiver.engine)] == [None, None]  # stored, verification waits
    assert row(receiver.engine, first.id).status == "pending" and row(receiver.engine, second.id).status == "pending"
    assert receiver.sandbox.status_calls() == []  # answered before the gateway answered anything
    receiver.sandbox.clear_faults()
    assert [a.json() for a in answers] == [{"success": True, "message": "Success", "data": {"duplicate": False}}] * 2
    assert sync.wait_idle(10)
    assert [c["answer"] for c in receiver.sandbox.status_calls()] == [201, 201]  # one look-up each, once released
    stored = events(receiver.engine)
    assert [(e.order_id, e.result, e.error) for e in stored] == [
        (first.order_id, "CAPTURED", None), (second.order_id, "CAPTURED", None)]
    assert "json" in (stored[1].content_type or "")
    assert row(receiver.engine, first.id).status == "paid" and row(receiver.engine, second.id).status == "paid"
    again = httpx.post(receiver.webhook_url, content=form,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert again.json()["data"] == {"duplicate": True}


def test_health_and_readiness_for_the_proxy(receiver) -> None:
    """The proxy's two checks: alive (with this server's part in the background sync), and ready (the database
    answers and its schema is at the newest migration)."""
    from sqlalchemy import text

    from services import migrate

    health = httpx.get(f"{receiver.url}/api/health", timeout=10).json()
    assert health == {"ok": True, "sync": health["sync"]} and health["sync"] in {"leader", "follower", "stopped"}
    ready = httpx.get(f"{receiver.url}/api/ready", timeout=10)
    assert ready.status_code == 200 and ready.json() == {"ready": True, "revision": migrate.head_revision()}
    with receiver.engine.begin() as conn:  # a database one revision behind (another version migrated it)
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    behind = httpx.get(f"{receiver.url}/api/ready", timeout=10)
    assert behind.status_code == 503 and behind.json()["revision"] == "0004"


def test_health_names_no_host_or_process(receiver, monkeypatch) -> None:
    """Anonymous callers learn nothing about the machine: no host name, no process id; only the name the
    operator gave the server, when there is one."""
    import os
    import socket

    from dashboard import runtime

    monkeypatch.setenv("SOUQ_SERVER_NAME", "app2")
    runtime.reset()
    answer = httpx.get(f"{receiver.url}/api/health", timeout=10)
    assert answer.json() == {"ok": True, "sync": answer.json()["sync"], "server": "app2"}
    assert str(os.getpid()) not in answer.text and socket.gethostname() not in answer.text
