"""``python -m dashboard sync`` from cron beside app servers on one PostgreSQL: never a second pass at once.

The command runs as cron runs it, a process of its own. A "server" here is a :class:`~services.leader.Leadership`
on an engine of its own, which is what each app server's background sync holds while it leads. The gateway is a
socket that accepts and never answers, so a pass that reaches it is seen, and held mid-pass, by the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dashboard.cli_sync import SKIPPED
from services.db import make_engine
from services.leader import Leadership
from services.models import Payment
from tests.factories import make_payment
from tests.postgres import postgres_database

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SilentGateway:
    """A listening socket: counts connections, answers none until :meth:`hang_up`."""

    sock: socket.socket
    connected: threading.Event = field(default_factory=threading.Event)
    held: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/v1/"

    closed: threading.Event = field(default_factory=threading.Event)
    gone: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.held.append(conn)
            self.connected.set()
        self.sock.close()  # from here on a connection is refused at once
        for conn in self.held:
            conn.close()
        self.gone.set()

    def hang_up(self) -> None:
        """Close every held connection and stop listening (the caller's next look-up is refused)."""
        self.closed.set()
        self.gone.wait(10)


@pytest.fixture
def gateway() -> Iterator[SilentGateway]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    silent = SilentGateway(sock)
    thread = threading.Thread(target=silent.serve, daemon=True)
    thread.start()
    try:
        yield silent
    finally:
        silent.hang_up()
        thread.join(10)
        silent.sock.close()


def _cron(url: str, gateway: SilentGateway) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUQ_")}
    env.update(SOUQ_DATABASE_URL=url, SOUQ_GATEWAY_URL=gateway.url, SOUQ_GATEWAY_TOKEN="jtest123",
               SOUQ_ENVIRONMENT="sandbox", SOUQ_GATEWAY_TIMEOUT_SECONDS="120", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "dashboard", "sync", "--limit", "5"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _status(engine: Engine, pk: int | None) -> str:
    with Session(engine) as session:
        payment = session.get(Payment, pk)
        assert payment is not None
        return payment.status


def test_cron_skips_while_a_server_leads_and_servers_wait_while_cron_runs(gateway: SilentGateway) -> None:
    with postgres_database("cron") as engine:
        url = engine.url.render_as_string(hide_password=False)
        pending = make_payment(engine, order_id="CRON-1", status="pending", method=None, track_id="T-CRON-1")
        server_engine = make_engine(url)
        server = Leadership(server_engine)
        try:
            # An app server leads: the cron run says so and asks the gateway nothing.
            assert server.try_lead()
            skipped = _cron(url, gateway)
            out, _ = skipped.communicate(timeout=120)
            assert skipped.returncode == 0, out
            assert SKIPPED in out
            assert not gateway.connected.is_set() and _status(engine, pending.id) == "pending"

            # No server leads: the cron run takes the lock for its pass; meanwhile no server can lead.
            server.step_down()
            running = _cron(url, gateway)
            try:
                assert gateway.connected.wait(120), "the cron run never asked the gateway"
                assert running.poll() is None  # held mid-pass by the silent gateway
                assert not server.try_lead() and server.role() == "follower"
            finally:
                gateway.hang_up()  # the look-up fails: the pass ends with an error, and the lock is let go
                out, _ = running.communicate(timeout=120)
            assert running.returncode == 1 and "errors 1" in out, out
            assert SKIPPED not in out
            deadline = time.monotonic() + 30
            while not server.try_lead() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert server.role() == "leader", "the lock was not let go after the cron run"
        finally:
            server.step_down()
            server_engine.dispose()
