"""Issue 11 item 7: no query string or body makes a public route answer 5xx, and junk changes nothing.

Hypothesis drives the real route functions in process (Starlette's TestClient on ``routes.routes()``, the same
routes the uvicorn fixture serves), beside one check over real HTTP on loopback.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from services import sync
from services.models import Payment
from tests.integration import test_sync as support
from tests.integration.test_sync import charge

receiver = support.receiver

PUBLIC = ["/pay/return", "/pay/cancel", "/webhooks/upayments", "/api/health", "/api/ready"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
_unicode_digits = st.sampled_from(["²", "٣", "۴", "१", "๒", "𝟗", "①", "Ⅻ", "½", "0" * 6, "9" * 400, "-1", "1e9",
                                   " 1", "1 ", "+1", "0x10", "١٢٣"])
_word = st.text(max_size=40) | _unicode_digits | st.sampled_from(
    ["o", "n", "track_id", "order_id", "requested_order_id", "result", "payment_id", "invoice_id", "CAPTURED"])


def _encode(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


_pair = st.tuples(_word, _word).map(lambda kv: f"{_encode(kv[0])}={_encode(kv[1])}")
_raw = st.binary(max_size=60).map(lambda b: "".join(f"%{x:02X}" for x in b))  # invalid UTF-8 when decoded
_query = st.lists(_pair | _raw | st.sampled_from(["&", "=", "?", "%", "%zz", "n", "&&==", "%C0%80", "%ED%A0%80"]),
                  max_size=8).map("&".join)


def _payments(engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        return sorted((p.order_id, p.status, p.track_id) for p in session.exec(select(Payment)).all())


def test_public_routes_never_answer_5xx(receiver) -> None:
    from dashboard import routes

    pending = charge(receiver)  # a known pending payment: junk must not change it
    before = _payments(receiver.engine)
    app = Starlette(routes=routes.routes())
    codes: list[int] = []
    with TestClient(app, raise_server_exceptions=False) as client:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(path=st.sampled_from(PUBLIC), method=st.sampled_from(METHODS), query=_query,
               body=st.binary(max_size=300), extra=st.sampled_from(["", f"&o={pending.order_id}",
                                                                   f"?o={pending.order_id}&n=%C2%B2"]))
        def fuzz(path: str, method: str, query: str, body: bytes, extra: str) -> None:
            answer = client.request(method, f"{path}?{query}{extra}", content=body or None)
            codes.append(answer.status_code)
            assert answer.status_code < 500, (method, path, query, extra, answer.status_code)

        fuzz()
    assert sync.wait_idle(30)
    assert _payments(receiver.engine) == before  # nothing of ours changed; nothing was created
    assert {200, 404, 405} <= set(codes)


def test_superscript_attempt_counter_over_real_http(receiver) -> None:
    pending = charge(receiver)
    for path in ("/pay/return", "/pay/cancel"):
        url = httpx.URL(f"{receiver.url}{path}", query=f"o={pending.order_id}&n=%C2%B2".encode())
        answer = httpx.get(url, timeout=20)
        assert answer.status_code == 200, answer.text[:200]
        assert 'data-kind="pending"' in answer.text
