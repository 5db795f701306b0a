"""CSV export: columns, exact amounts, Kuwait and UTC times, formula neutralisation, audit, permissions, streaming."""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from services.audit import verify
from services.models import AuditEntry
from services.permissions import Actor, PermissionDenied, Role
from services.search import SearchFilter, search
from services.search.export import COLUMNS, export_csv, neutralise
from tests.factories import enrol, make_db, make_payment, make_staff

FIN = Actor("fin@shop.test", Role.FINANCE)
T0 = datetime(2026, 3, 9, 21, 30, 5, tzinfo=UTC)  # 00:30:05 on 10 March in Kuwait


def _parse(chunks) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def _audits(engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == "export_transactions")).all())


@pytest.fixture
def engine(engine):
    enrol(engine, FIN)
    return engine


def test_columns_times_amounts_and_no_raw_payload(engine) -> None:
    make_payment(engine, order_id="K-1", amount_fils=12_500, refunded_fils=2_250, status="paid", method="knet",
                 created_at=T0, paid_at=T0 + timedelta(seconds=40), customer_name="Noura Al-Sabah",
                 customer_phone="+96550000000", customer_email="noura@mail.test", track_id="T1",
                 raw=json.dumps({"token": "SECRET-TOKEN", "auth": "A1"}), created_by="sara@shop.test")
    rows = _parse(export_csv(engine, FIN, SearchFilter()))
    assert list(rows[0]) == list(COLUMNS)
    row = rows[0]
    assert (row["created_kuwait"], row["created_utc"]) == ("2026-03-10 00:30:05", "2026-03-09T21:30:05Z")
    assert (row["paid_kuwait"], row["paid_utc"]) == ("2026-03-10 00:30:45", "2026-03-09T21:30:45Z")
    assert (row["amount"], row["refunded"], row["currency"]) == ("12.500", "2.250", "KWD")
    assert (row["order_id"], row["status"], row["method"], row["method_family"]) == ("K-1", "paid", "knet", "knet")
    assert row["customer_phone"] == "'+96550000000"  # a leading + is a formula to a spreadsheet
    assert row["created_by"] == "sara@shop.test"
    text = "".join(export_csv(engine, FIN, SearchFilter()))
    assert "SECRET-TOKEN" not in text and "raw" not in COLUMNS


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"), ("Noura", "Noura"), ("", ""),
    ("a=b", "a=b"), ("٥٠٠٠", "٥٠٠٠"),
])
def test_neutralise(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_formula_cells_from_customers_are_neutralised_in_the_file(engine) -> None:
    make_payment(engine, order_id="=1+1", customer_name="=cmd|' /C calc'!A0", description="@SUM(1)",
                 customer_email="-x@y.test", reference="+REF", created_at=T0)
    row = _parse(export_csv(engine, FIN, SearchFilter()))[0]
    assert row["order_id"] == "'=1+1"
    assert row["customer_name"] == "'=cmd|' /C calc'!A0"
    assert (row["description"], row["customer_email"], row["reference"]) == ("'@SUM(1)", "'-x@y.test", "'+REF")


def test_amounts_are_exact_and_add_up(engine) -> None:
    rng = random.Random(3)
    amounts = [rng.randrange(1, 10**9) for _ in range(60)]
    for i, fils in enumerate(amounts):
        make_payment(engine, order_id=f"A{i}", amount_fils=fils, created_at=T0 + timedelta(minutes=i))
    rows = _parse(export_csv(engine, FIN, SearchFilter()))
    assert [Decimal(r["amount"]) * 1000 for r in rows] == [Decimal(f) for f in amounts]  # oldest first
    assert all(len(r["amount"].split(".")[1]) == 3 for r in rows)


def test_export_follows_the_filter_and_is_audited_when_the_file_is_produced(engine) -> None:
    for i in range(5):
        make_payment(engine, order_id=f"E{i}", status="paid" if i < 3 else "failed",
                     created_at=T0 + timedelta(minutes=i))
    flt = SearchFilter(statuses={"paid"})
    chunks = export_csv(engine, FIN, flt)
    assert _audits(engine) == []  # nothing produced yet: no claim of an export
    rows = _parse(chunks)
    entries = _audits(engine)
    assert len(entries) == 1 and entries[0].actor == FIN.email
    assert json.loads(entries[0].after or "{}") == {"filter": {"status": "paid"}, "rows": 3}
    assert [r["order_id"] for r in rows] == ["E0", "E1", "E2"]
    assert len(rows) == search(engine, FIN, flt).total_count
    assert verify(engine).ok


def test_an_export_that_breaks_off_is_not_audited(engine) -> None:
    for i in range(2500):
        make_payment(engine, order_id=f"A{i}", created_at=T0 + timedelta(seconds=i))
    chunks = export_csv(engine, FIN, SearchFilter())
    next(chunks)  # the browser went away after the first chunk
    chunks.close()  # type: ignore[attr-defined]
    assert _audits(engine) == []


def test_ticket_is_single_use_signed_expiring_and_rechecks_the_person(engine) -> None:
    from services.search.export import ExportRefused, issue_ticket, redeem_ticket
    from services.staff import bootstrap_admins, change_role

    admin = Actor("boss@shop.test", Role.ADMIN)
    bootstrap_admins(engine, [admin.email])
    flt = SearchFilter(statuses={"paid"})
    ticket = issue_ticket(FIN, flt, now=1_000_000.0)
    actor, again, header_language = redeem_ticket(engine, ticket, now=1_000_010.0)
    assert actor.email == FIN.email and again == flt and header_language == "en"
    with pytest.raises(ExportRefused, match="already used"):
        redeem_ticket(engine, ticket, now=1_000_011.0)
    with pytest.raises(ExportRefused, match="expired"):
        redeem_ticket(engine, issue_ticket(FIN, flt, now=1_000_000.0), now=1_000_000.0 + 1801)
    body, _, sig = issue_ticket(FIN, flt, now=1_000_000.0).partition(".")
    forged = body.replace(body[5], "A" if body[5] != "A" else "B", 1) + "." + sig
    for bad in (forged, "", "x", "x.y", "\x00" * 50, "a" * 5000 + "." + sig):
        with pytest.raises(ExportRefused, match="not valid"):
            redeem_ticket(engine, bad, now=1_000_000.0)
    demoted = issue_ticket(FIN, flt, now=1_000_000.0)
    change_role(engine, admin, email=FIN.email, role=Role.VIEWER)
    with pytest.raises(ExportRefused, match="no longer allows"):
        redeem_ticket(engine, demoted, now=1_000_001.0)
    with pytest.raises(PermissionDenied):
        issue_ticket(Actor("v@shop.test", Role.VIEWER), flt)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_roles_without_export_permission_are_refused_and_nothing_is_audited(engine, role: Role) -> None:
    make_payment(engine, order_id="X", created_at=T0)
    with pytest.raises(PermissionDenied):
        export_csv(engine, make_staff(engine, role), SearchFilter())
    assert _audits(engine) == []


def test_out_receives_the_whole_file(engine) -> None:
    make_payment(engine, order_id="O1", created_at=T0)
    out = io.StringIO()
    assert list(export_csv(engine, FIN, SearchFilter(), out=out)) == []
    assert _parse([out.getvalue()])[0]["order_id"] == "O1"
    assert out.getvalue().startswith("created_kuwait,created_utc,order_id")


def _bulk(engine, n: int) -> None:
    """n payments straight through the driver (the ORM would take minutes)."""
    start = datetime(2026, 1, 1)
    rows = [(f"B{i:07d}", 250 * (1 + i % 400), "KWD", "paid" if i % 5 else "failed", "knet", "knet",
             f"Customer {i % 97}", f"+9655{i:07d}", f"c{i}@mail.test", "en", "bench",
             (start + timedelta(seconds=17 * i)).isoformat(" ", "microseconds"),
             (start + timedelta(seconds=17 * i + 3 * 3600)).date().isoformat(),
             (start + timedelta(seconds=17 * i)).isoformat(" ", "microseconds"), 0, 0) for i in range(n)]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO payment (order_id, amount_fils, currency, status, method, method_family, customer_name, "
            "customer_phone, customer_email, language, source, created_at, local_day, updated_at, refunded_fils, "
            "webhook_received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def test_streaming_200k_rows_keeps_memory_flat(tmp_path) -> None:
    engine = make_db(tmp_path, "big.db")
    enrol(engine, FIN)
    _bulk(engine, 200_000)
    chunks = export_csv(engine, FIN, SearchFilter())
    tracemalloc.start()
    try:
        lines = 0
        biggest = 0
        pieces = 0
        for chunk in chunks:
            lines += chunk.count("\r\n")
            biggest = max(biggest, len(chunk))
            pieces += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 200_001  # header + every row
    assert pieces > 150 and biggest < 400_000  # ~1,000 rows a chunk, never the whole file
    # the whole CSV is ~40 MB; streaming keeps the peak at a few MB whatever the row count
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_the_header_is_a_choice_the_ticket_carries_and_the_rows_do_not_change(engine) -> None:
    from dashboard.export_header import transactions_header
    from services.search.export import issue_ticket, redeem_ticket

    make_payment(engine, order_id="H-1", amount_fils=12_500, status="paid", created_at=T0, customer_name="نورة")
    ticket = issue_ticket(FIN, SearchFilter(), header_language="ar", now=2_000_000.0)
    _actor, _flt, header_language = redeem_ticket(engine, ticket, now=2_000_001.0)
    assert header_language == "ar"
    arabic = list(csv.reader(io.StringIO("".join(export_csv(engine, FIN, SearchFilter(),
                                                            header=transactions_header(header_language))))))
    english = list(csv.reader(io.StringIO("".join(export_csv(engine, FIN, SearchFilter())))))
    assert english[0] == list(COLUMNS) and arabic[0] == transactions_header("ar") != english[0]
    assert arabic[0][:3] == ["تاريخ الإنشاء (بتوقيت الكويت)", "تاريخ الإنشاء (UTC)", "رقم الطلب"]
    assert arabic[1:] == english[1:] and english[1][2] == "H-1"
    with pytest.raises(ValueError, match="distinct names"):
        export_csv(engine, FIN, SearchFilter(), header=COLUMNS[:-1])
    with pytest.raises(ValueError, match="distinct names"):
        export_csv(engine, FIN, SearchFilter(), header=["x"] * len(COLUMNS))
