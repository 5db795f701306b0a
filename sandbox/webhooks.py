"""Webhook delivery to ``notificationUrl`` (contract §10, §16 A9): background threads, retries, back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx

from .config import SandboxConfig
from .store import Store

log = logging.getLogger(__name__)
_MAX_RECORDED = 2000


def encode(params: dict[str, str], encoding: str) -> tuple[bytes, str]:
    """The body and content type: form fields (what the PHP plugins read) or, by switch, JSON."""
    if encoding == "json":
        return json.dumps(params).encode(), "application/json"
    return urlencode(params).encode(), "application/x-www-form-urlencoded"


def signature(secret: str, body: bytes) -> str:
    """Simulator-specific ``X-Sandbox-Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _recorded(response: httpx.Response) -> dict[str, Any]:
    """What the endpoint answered, as an object (§16 A6): its JSON object, else status and text."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return payload
    return {"http_status": response.status_code, "body": response.text[:_MAX_RECORDED]}


class WebhookSender:
    """Posts notifications on a small thread pool and records the outcome on the attempt."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self._config = config
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-webhook")
        self._http = httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False)
        self._closed = threading.Event()

    def send(self, track_id: str, url: str, params: dict[str, str]) -> Future[bool]:
        """Queue one notification; the future says whether a 2xx was obtained."""
        return self._pool.submit(self._deliver, track_id, url, params)

    def close(self) -> None:
        """Stop accepting work; queued deliveries are dropped, retries stop."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _deliver(self, track_id: str, url: str, params: dict[str, str]) -> bool:
        cfg = self._config
        body, content_type = encode(params, cfg.webhook_encoding)
        headers = {"Content-Type": content_type, "User-Agent": "UPayments-Sandbox-Webhook/1.0"}
        if cfg.webhook_hmac_secret:
            headers["X-Sandbox-Signature"] = signature(cfg.webhook_hmac_secret, body)
        recorded: dict[str, Any] = {}
        attempts = 0
        for attempt in range(cfg.webhook_retries + 1):
            if attempt and self._closed.wait(cfg.webhook_backoff_seconds * 2 ** (attempt - 1)):
                return False
            attempts += 1
            try:
                response = self._http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                recorded = {"error": f"{type(exc).__name__}: {exc}"[:_MAX_RECORDED]}
                log.info("webhook %s attempt %d failed: %s", track_id, attempts, recorded["error"])
                continue
            except RuntimeError:  # client closed while shutting down
                return False
            recorded = _recorded(response)
            if response.is_success:
                self._store.record_notify(track_id, called=True, response=recorded, attempts=attempts)
                return True
            log.info("webhook %s attempt %d answered HTTP %d", track_id, attempts, response.status_code)
        self._store.record_notify(track_id, called=False, response=recorded, attempts=attempts)
        return False
