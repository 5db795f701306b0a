"""Fault injection on the gateway API, switched at run time (``POST /__sandbox/faults``); simulator-only."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_IP_BLOCK_PAGE = (b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
                  b"<p>Access denied: your IP address is not whitelisted.</p></body></html>")


@dataclass
class Faults:
    """One fault set; every field off by default."""

    latency_ms: int = 0
    error_rate: float = 0.0  # probability of an HTTP 500 JSON answer (a probability, not money)
    rate_limit: bool = False
    retry_after: int = 1
    hang_seconds: float = 0.0
    hang_after_seconds: float = 0.0  # run the handler (its effects happen), then hold the answer this long
    hold: bool = False  # the request waits, unanswered, until this fault set is replaced or cleared
    malformed_json: bool = False
    non_json: int | None = None  # HTTP status of an HTML page (403 = the IP-whitelist case, or a 2xx)
    paths: list[str] | None = None
    count: int | None = None

    @classmethod
    def parse(cls, body: Any) -> Faults:
        """From the admin JSON; ``non_json: true`` means 403. Raises ValueError on bad input."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values = dict(body)
        if values.get("non_json") is True:
            values["non_json"] = 403
        elif values.get("non_json") is False:
            values["non_json"] = None
        faults = cls(**values)
        if not 0 <= float(faults.error_rate) <= 1:
            raise ValueError("error_rate must be between 0 and 1")
        if faults.non_json is not None and not (isinstance(faults.non_json, int) and 200 <= faults.non_json < 600):
            raise ValueError("non_json must be true/false or an HTTP status")
        if faults.paths is not None:
            faults.paths = [p if p.startswith("/") else "/api/v1/" + p for p in faults.paths]
        if faults.count is not None and faults.count < 0:
            raise ValueError("count must be >= 0")
        return faults

    def active(self) -> bool:
        """Whether anything is switched on (and not used up)."""
        switched = (self.latency_ms or self.error_rate or self.rate_limit or self.hang_seconds
                    or self.malformed_json or self.non_json or self.hang_after_seconds or self.hold)
        return bool(switched) and self.count != 0


@dataclass
class FaultState:
    """The current fault set, shared between the admin API and the middleware."""

    faults: Faults = field(default_factory=Faults)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, faults: Faults) -> None:
        """Replace the fault set."""
        with self._lock:
            self.faults = faults

    def clear(self) -> None:
        """Switch everything off."""
        self.set(Faults())

    def view(self) -> dict[str, Any]:
        """The current fault set as JSON."""
        with self._lock:
            return asdict(self.faults)

    def holds(self, path: str) -> bool:
        """Whether a request to ``path`` is still to be held (the current set has ``hold`` for it)."""
        with self._lock:
            f = self.faults
            return f.hold and any(path.startswith(p) for p in (f.paths or ["/api/"]))

    def take(self, path: str) -> Faults | None:
        """The faults that apply to this request (consuming one of ``count``), or None."""
        with self._lock:
            f = self.faults
            if not f.active() or not any(path.startswith(p) for p in (f.paths or ["/api/"])):
                return None
            if f.count is not None:
                f.count -= 1
            return Faults(**asdict(f))


class FaultMiddleware:
    """Applies the current faults to gateway API requests (never to ``/__sandbox`` or the payment page)."""

    def __init__(self, app: ASGIApp, state: FaultState) -> None:
        self.app = app
        self.state = state
        self._random = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        f = self.state.take(scope["path"]) if scope["type"] == "http" else None
        if f is None:
            await self.app(scope, receive, send)
            return
        while f.hold and self.state.holds(scope["path"]):
            await asyncio.sleep(0.01)
        if f.hang_seconds:
            await asyncio.sleep(f.hang_seconds)
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if f.rate_limit:
            await _send(send, 429, b'{"message":"Too Many Attempts."}', "application/json",
                        [(b"retry-after", str(f.retry_after).encode())])
        elif f.error_rate and self._random.random() < f.error_rate:
            await _send(send, 500, b'{"message":"Server Error"}', "application/json")
        elif f.non_json is not None:
            await _send(send, f.non_json, _IP_BLOCK_PAGE, "text/html; charset=UTF-8")
        elif f.malformed_json:
            await self._truncated(scope, receive, send)
        elif f.hang_after_seconds:
            await self._late(scope, receive, send, f.hang_after_seconds)
        else:
            await self.app(scope, receive, send)

    async def _late(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        """Run the real handler (the money moves), then hold its answer: a timeout *after* the call."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        await asyncio.sleep(seconds)
        try:
            for message in messages:
                await send(message)
        except OSError:  # the client gave up long ago
            return

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the real handler (its effects happen), then answer 2xx with half of its JSON body."""
        status = 201
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks) or json.dumps({"status": True}).encode()
        await _send(send, status if status < 300 else 201, body[: max(1, len(body) // 2)], "application/json")


async def _send(send: Send, status: int, body: bytes, content_type: str,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
