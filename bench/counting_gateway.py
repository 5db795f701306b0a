"""The sandbox gateway with a tally at its door: every status look-up it answers, counted on the gateway's side.

    python -m bench.counting_gateway --port 8901 --db /tmp/sandbox.db --public-url http://localhost:8901

Runs ``sandbox.create_app`` unchanged behind a small ASGI wrapper that notes each ``get-payment-status`` and
``get-deposit-status`` request (arrival time, kind, the id asked about, the answer's HTTP status). The list is
served at ``GET /__count/lookups``. The multi-server test and ``bench/multi.py`` read it to check the
merchant's budget across all app servers (at most the configured rate in any 60 s window) and that each
payment was verified once.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig

Scope = dict[str, Any]


class Tally:
    """An ASGI wrapper recording the gateway's status look-ups."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lookups: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/__count/lookups":
            with self._lock:
                body = json.dumps(self.lookups).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        kind = ("status" if "/get-payment-status" in path else "deposit" if "/get-deposit-status" in path
                else None)
        if kind is None:
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        answer: dict[str, int] = {}

        async def noting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = int(message["status"])
            await send(message)

        await self.app(scope, receive, noting)
        query = scope.get("query_string", b"").decode("latin-1")
        key = path.rsplit("/", 1)[-1] if path.count("/") > 3 else query
        with self._lock:
            self.lookups.append({"t": arrived, "kind": kind, "key": key, "status": answer.get("status", 0)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.counting_gateway")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--public-url", required=True)
    parser.add_argument("--status-limit", type=int, default=10_000, help="the sandbox's own limit (high: ours counts)")
    args = parser.parse_args(argv)
    config = SandboxConfig(db_path=args.db, public_url=args.public_url, status_limit_per_minute=args.status_limit,
                           refund_delay_seconds=2.0, webhook_backoff_seconds=0.5)
    uvicorn.run(Tally(create_app(config)), host="127.0.0.1", port=args.port, log_level="warning",
                timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
