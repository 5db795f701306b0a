"""The Transactions CSV route over real HTTP on loopback: the header row in the language the ticket names, the
same rows whatever the header, a file a spreadsheet opens (UTF-8 byte-order mark, CRLF lines)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from dashboard import runtime
from dashboard.export_header import transactions_header
from sandbox.server import serve_app_in_thread
from services.db import sqlite_url
from services.permissions import Actor, Role
from services.search import COLUMNS, SearchFilter, issue_ticket
from tests.factories import make_db, make_payment, make_staff

T0 = datetime(2026, 3, 9, 21, 30, 5, tzinfo=UTC)
ARABIC = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The dashboard's routes under uvicorn on a free loopback port, on a fresh SQLite file with three payments."""
    from dashboard import routes

    engine = make_db(tmp_path, "export.db")
    for i, (name, status) in enumerate([("نورة الصباح", "paid"), ("=HYPERLINK(1)", "paid"), ("Huda", "failed")]):
        make_payment(engine, order_id=f"E-{i}", amount_fils=12_500 + i, status=status, customer_name=name,
                     customer_phone=f"+9655000000{i}", created_at=T0 + timedelta(minutes=i), method="knet")
    engine.dispose()
    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(tmp_path / "export.db"))
    monkeypatch.setenv("SOUQ_ENVIRONMENT", "demo")
    runtime.reset()
    try:
        with serve_app_in_thread(Starlette(routes=routes.routes()), lifespan="off", name="routes") as url:
            yield url
    finally:
        runtime.engine().dispose()
        runtime.reset()


def _download(base: str, header_language: str, flt: SearchFilter | None = None) -> str:
    finance = make_staff(runtime.engine(), Role.FINANCE)
    ticket = issue_ticket(finance, flt or SearchFilter(), header_language=header_language)
    answer = httpx.get(f"{base}/export/transactions.csv", params={"t": ticket}, timeout=20)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    return answer.content.decode("utf-8")


def test_the_arabic_header_tops_the_same_rows(app: str) -> None:
    english, arabic = _download(app, "en"), _download(app, "ar")
    for text in (english, arabic):
        assert text.startswith("\ufeff") and text.endswith("\r\n")  # Excel reads the BOM as UTF-8
    en_rows = list(csv.reader(io.StringIO(english.removeprefix("\ufeff"))))
    ar_rows = list(csv.reader(io.StringIO(arabic.removeprefix("\ufeff"))))
    assert en_rows[0] == list(COLUMNS)
    assert ar_rows[0] == transactions_header("ar")
    assert len(set(ar_rows[0])) == len(COLUMNS) and all(ARABIC.search(cell) for cell in ar_rows[0][:5])
    assert ar_rows[0][2] == "رقم الطلب" and ar_rows[0][4] == "المبلغ"
    assert ar_rows[1:] == en_rows[1:] and len(en_rows) == 4  # the rows do not depend on the header
    by_order = {row[2]: row for row in ar_rows[1:]}
    assert by_order["E-0"][10] == "نورة الصباح" and by_order["E-1"][10] == "'=HYPERLINK(1)"  # data, neutralised


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(lang=st.text(max_size=8) | st.sampled_from(["en", "ar", "AR", "ar ", "fr", ""]))
def test_a_ticket_carries_only_a_known_header_language(lang: str) -> None:
    finance = Actor("fin@shop.test", Role.FINANCE)
    if lang in ("en", "ar"):
        assert issue_ticket(finance, SearchFilter(), header_language=lang)
    else:
        with pytest.raises(ValueError, match="header language"):
            issue_ticket(finance, SearchFilter(), header_language=lang)
