"""The UPayments client: one httpx client, one ``_request`` that applies timeouts, auth, limits and retries."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from . import errors
from .account import AccountResource, DepositsResource
from .cards import CardsResource
from .charges import ChargesResource
from .limiter import Lane, SlidingWindowLimiter
from .payments import PaymentsResource
from .refunds import RefundsResource
from .wire import dumps

log = logging.getLogger("services.gateway")

#: Longest Retry-After we are willing to sleep through inside one call (seconds); longer → raise at once.
RETRY_AFTER_CAP = 10.0
#: Backoff: base * 2**attempt, capped, times a jitter factor in [0.5, 1].
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
#: Characters of a non-JSON body quoted in an error message.
_SNIPPET = 80


class UPaymentsClient:
    """Synchronous client of the UPayments API ("UInterfaceV2"); use as a context manager or call ``close``.

    ``base_url`` is the API base (``https://sandboxapi.upayments.com/api/v1/``); a bare host gets ``/api/v1/``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        status_rate_per_minute: int = 30,
        max_retries: int = 2,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "SouqDesk/0.1",
        limiter_timeout: float = 60.0,
        backoff_base: float = BACKOFF_BASE,
        retry_after_cap: float = RETRY_AFTER_CAP,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        status_limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self.base_url = _api_base(base_url)
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.max_retries = max(0, max_retries)
        self.limiter_timeout = limiter_timeout
        self.backoff_base = backoff_base
        self.retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._user_agent = user_agent
        # One per process by default; several servers on one database share one (the factory passes it).
        self.status_limiter = status_limiter or SlidingWindowLimiter(status_rate_per_minute, 60.0, clock=clock,
                                                                     sleep=sleep)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )
        self.charges = ChargesResource(self)
        self.payments = PaymentsResource(self)
        self.refunds = RefundsResource(self)
        self.account = AccountResource(self)
        self.deposits = DepositsResource(self)
        self.cards = CardsResource(self)

    def __repr__(self) -> str:
        return f"UPaymentsClient(base_url={self.base_url!r})"

    def __enter__(self) -> UPaymentsClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ------------------------------------------------------------------ the one request path

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        retry: bool = False,
        limited: bool = False,
        limiter_timeout: float | None = None,
        ids: Mapping[str, str | None] | None = None,
        lane: Lane | None = None,
    ) -> dict[str, Any]:
        """Send one API call and return the JSON envelope (``status`` is true). Raises ``errors.GatewayError``.

        ``retry`` is set only for calls that change nothing (look-ups); money-moving POSTs never repeat.
        ``limited`` puts the call under the get-payment-status limiter (each attempt takes a slot, in ``lane``:
        the current :func:`limiter.lane` when None).
        """
        where: dict[str, Any] = {"method": method, "path": path, "ids": dict(ids or {})}
        attempt = 0
        while True:
            slot = None
            if limited:
                wait = self.limiter_timeout if limiter_timeout is None else limiter_timeout
                try:
                    slot = self.status_limiter.acquire(wait, what="get-payment-status", lane=lane)
                except errors.RateLimited as exc:
                    raise errors.RateLimited(exc.message, retry_after=exc.retry_after, **where) from None
            try:
                return self._send_once(method, path, body=body, params=params, auth=auth, where=where)
            except errors.GatewayError as exc:
                delay = self._retry_delay(exc, attempt) if retry and attempt < self.max_retries else None
                if delay is None:
                    raise
                log.warning("upayments %s %s retry %d in %.2f s after %s", method, path, attempt + 1, delay,
                            type(exc).__name__)
            finally:
                if slot is not None:
                    self.status_limiter.release(slot)
            self._sleep(delay)
            attempt += 1

    def _retry_delay(self, exc: errors.GatewayError, attempt: int) -> float | None:
        """Seconds to wait before retrying ``exc``, or None when it must not be retried."""
        if isinstance(exc, errors.RateLimited):
            if exc.retry_after is not None:
                return exc.retry_after if exc.retry_after <= self.retry_after_cap else None
        elif not isinstance(exc, errors.GatewayConnectionError | errors.ServerError):
            return None
        backoff = min(BACKOFF_MAX, self.backoff_base * 2**attempt)
        return backoff * (0.5 + self._random.random() / 2)

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        auth: bool,
        where: dict[str, Any],
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if auth:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = dumps(body)
        started = time.perf_counter()
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            # A connect/pool timeout means nothing was sent; a read/write timeout may have reached the gateway.
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            self._log(method, path, None, started, where, type(exc).__name__)
            raise errors.GatewayTimeout(
                f"UPayments did not answer in time ({type(exc).__name__})", request_sent=sent, **where
            ) from None
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol)
            self._log(method, path, None, started, where, type(exc).__name__)
            raise errors.GatewayConnectionError(
                f"Could not reach UPayments ({type(exc).__name__}: {self._scrub(str(exc))})",
                request_sent=sent,
                **where,
            ) from None
        self._log(method, path, response.status_code, started, where, None)
        return self._interpret(response, where)

    def _interpret(self, response: httpx.Response, where: dict[str, Any]) -> dict[str, Any]:
        """Turn a response into the envelope, or raise the matching typed error."""
        code = response.status_code
        payload: Any = None
        decode_error: str | None = None
        try:
            payload = json.loads(response.content) if response.content else None
        except (ValueError, UnicodeDecodeError) as exc:
            decode_error = str(exc)
        message = self._scrub(_message_of(payload) or _reason(code))
        if 400 <= code < 500 and code != 429 and (
            decode_error is not None or (payload is not None and not isinstance(payload, dict))
        ):
            # An HTML 4xx comes from a front layer, not the API: typically the IP-whitelist block (§1.2).
            raise errors.InvalidResponse(
                f"UPayments answered HTTP {code} with a non-JSON body (an HTML page usually means this server's "
                f"IP is not whitelisted with UPayments, or the base URL is wrong): {self._snippet(response)}",
                status_code=code,
                **where,
            )
        if code >= 400:
            cls = errors.status_error_class(code)
            extra: dict[str, Any] = {}
            if cls is errors.ValidationFailed:
                extra["errors"] = _field_errors(payload)
            elif cls is errors.RateLimited:
                extra["retry_after"] = _retry_after(response.headers.get("Retry-After"))
            request_id = response.headers.get("X-Request-Id") or response.headers.get("X-Correlation-Id")
            raise cls(message, status_code=code, request_id=request_id, **extra, **where)
        if code >= 300:
            raise errors.InvalidResponse(
                f"UPayments redirected the call (HTTP {code}) instead of answering", status_code=code, **where
            )
        if decode_error is not None or payload is None:
            looks_json = response.content.lstrip()[:1] in (b"{", b"[")
            hint = (
                "a truncated or malformed JSON body"
                if looks_json
                else "a non-JSON body (an HTML page usually means this server's IP is not whitelisted "
                "with UPayments, or the Accept header was lost)"
            )
            raise errors.InvalidResponse(
                f"UPayments answered HTTP {code} with {hint}: {self._snippet(response)}", status_code=code, **where
            )
        if not isinstance(payload, dict):
            raise errors.InvalidResponse(
                f"UPayments answered with a JSON {type(payload).__name__}, not an object", status_code=code, **where
            )
        status = payload.get("status")
        if status is False or (isinstance(status, str) and status.lower() == "false") or status == 0:
            raise errors.BusinessRefusal(message if _message_of(payload) else "no reason given", **where)
        if status is not True and not (isinstance(status, str) and status.lower() == "true") and status != 1:
            raise errors.InvalidResponse(
                f"UPayments answered without a true/false status (got {status!r})", status_code=code, **where
            )
        return payload

    # ------------------------------------------------------------------ helpers

    def _scrub(self, text: str) -> str:
        """Remove the token from text the gateway (or httpx) produced, in case it was echoed back."""
        secret = self._token.get_secret_value()
        return text.replace(secret, "[redacted]") if len(secret) >= 4 else text

    def _snippet(self, response: httpx.Response) -> str:
        text = response.content[:_SNIPPET].decode("utf-8", "replace")
        text = " ".join(text.split())
        return repr(self._scrub(text) + ("…" if len(response.content) > _SNIPPET else ""))

    def _log(
        self, method: str, path: str, status: int | None, started: float, where: dict[str, Any], err: str | None
    ) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        ids = " ".join(f"{k}={v}" for k, v in sorted(where["ids"].items()) if v)
        outcome = str(status) if status is not None else err
        level = logging.INFO if status is not None and status < 400 else logging.WARNING
        log.log(level, "upayments %s %s -> %s in %.0f ms %s", method, path, outcome, elapsed_ms, ids)


def _api_base(base_url: str) -> str:
    """Normalise the base URL to end with ``/``; a bare host gets the ``/api/v1/`` prefix (§1.1)."""
    url = base_url.strip()
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/api/v1"
    return url.rstrip("/") + "/"


def _reason(code: int) -> str:
    return httpx.codes.get_reason_phrase(code) or f"HTTP {code}"


def _message_of(payload: Any) -> str | None:
    if isinstance(payload, dict):
        msg = payload.get("message")
        if isinstance(msg, str) and msg.strip():
            return msg.strip()
    return None


def _field_errors(payload: Any) -> dict[str, list[str]]:
    """Laravel-style ``errors``: an object of field → message(s); ``[]`` when there are none."""
    raw = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[str]] = {}
    for field, msgs in raw.items():
        if isinstance(msgs, list):
            out[str(field)] = [str(m) for m in msgs]
        elif msgs is not None:
            out[str(field)] = [str(msgs)]
    return out


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
