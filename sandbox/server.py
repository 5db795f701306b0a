"""Run the sandbox in a background thread (tests, benchmarks) and drive its admin API over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import uvicorn

from .app import create_app
from .config import SandboxConfig


@dataclass
class RunningSandbox:
    """A sandbox listening on loopback; ``url`` has no trailing slash."""

    url: str
    config: SandboxConfig
    _http: httpx.Client = field(repr=False)

    @property
    def api_base(self) -> str:
        """The gateway API base, ``<url>/api/v1/``."""
        return self.url + "/api/v1/"

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.request(method, f"{self.url}/__sandbox/{path}", json=body)
        payload: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox admin {path} failed ({response.status_code}): {payload.get('error')}")
        return payload

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault set (fields of ``sandbox.faults.Faults``); returns it."""
        result: dict[str, Any] = self._admin("POST", "faults", faults)["faults"]
        return result

    def clear_faults(self) -> None:
        """Switch fault injection off."""
        self._admin("DELETE", "faults")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time settings (limits, delays, balance, quirk, encoding …); returns them all."""
        return self._admin("POST", "config", changes)

    def complete(self, session_id: str | None = None, *, invoice_id: str | None = None, method: str | None = None,
                 outcome: str = "captured", wait_webhook: bool = True) -> dict[str, Any]:
        """Pay (or decline/cancel) a charge as the hosted page would; returns track_id, redirect_url, order_id …"""
        body: dict[str, Any] = {"outcome": outcome, "wait_webhook": wait_webhook}
        body.update({k: v for k, v in (("session_id", session_id), ("invoice_id", invoice_id),
                                       ("method", method)) if v})
        return self._admin("POST", "complete", body)

    def settle_refunds(self) -> int:
        """Make every initiated refund refunded now; returns how many changed."""
        return int(self._admin("POST", "refunds/settle")["settled"])

    def status_calls(self) -> list[dict[str, Any]]:
        """Every get-payment-status call the API received, in order: ``{"id": <id asked>, "answer": <HTTP status>}``
        (a call held or refused by a fault before the API is not in it)."""
        calls: list[dict[str, Any]] = self._admin("GET", "status-calls")["calls"]
        return calls

    def payment(self, merchant_order_id: str) -> dict[str, Any]:
        """The internal record of a charge: payment, attempts, refunds, balance."""
        return self._admin("GET", f"payments/{merchant_order_id}")


@contextmanager
def serve_app_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0,
                        lifespan: Literal["auto", "on", "off"] = "on", name: str = "asgi",
                        start_timeout: float = 15) -> Iterator[str]:
    """Serve any ASGI ``app`` with uvicorn in a daemon thread on ``host:port`` (0 = a free port, bound here so no
    other process can take it first); yields the base URL once it serves, stops on exit. The sandbox, the tests'
    and the benchmarks' copies of the dashboard's routes all start this way."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # lets asyncio set TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"{name} server did not start")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextmanager
def serve_in_thread(config: SandboxConfig, port: int = 0, host: str = "127.0.0.1") -> Iterator[RunningSandbox]:
    """The sandbox in a daemon thread (see :func:`serve_app_in_thread`)."""
    with serve_app_in_thread(create_app(config), host=host, port=port, name="sandbox") as url:
        config.public_url = config.public_url or url
        with httpx.Client(timeout=30) as http:
            yield RunningSandbox(url=url, config=config, _http=http)
