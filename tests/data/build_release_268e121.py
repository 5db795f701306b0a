"""Build ``release_268e121.sqlite-fixture``: a cache database exactly as release 268e121 wrote it, with rows.

Release 268e121 (before migrations) built its schema with ``SQLModel.metadata.create_all`` plus
``services.search.support.ensure_search_support``; it has no ``alembic_version`` table. This script runs that
release's own code (extracted with ``git archive 268e121``), so it keeps producing the same kind of database after
the schema moves under Alembic. Every value is fixed, so a rebuild has the same rows.

    python tests/data/build_release_268e121.py            # rewrites tests/data/release_268e121.sqlite-fixture
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

RELEASE = "268e121"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = HERE / f"release_{RELEASE}.sqlite-fixture"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

#: (order id, amount fils, status, gateway result, method, customer name, phone) for the payments.
PAYMENTS = [
    (f"ORD-{i:04d}", 1000 + 250 * (i % 7), status, result, method, name, f"+9655000{i:04d}")
    for i, (status, result, method, name) in enumerate(
        [
            ("paid", "CAPTURED", "knet", "Fatima Al-Sabah"),
            ("paid", "CAPTURED", "card", "Ahmad Al-Mutairi"),
            ("failed", "NOT CAPTURED", "knet", "Noura Al-Enezi"),
            ("cancelled", "CANCELED", "card", "Yousef Al-Rashidi"),
            ("pending", None, None, "Sara Al-Kandari"),
            ("expired", None, None, "Khalid Al-Ajmi"),
            ("paid", "CAPTURED", "apple_pay", "Mariam Al-Shammari"),
            ("paid", "CAPTURED", "google_pay", "Omar Al-Harbi"),
            ("paid", "CAPTURED", "amex", "Hessa Al-Dosari"),
            ("paid", "CAPTURED", "knet", "فاطمة الصباح"),
            ("failed", "ERROR", "card", "Bader Al-Azmi"),
            ("paid", "CAPTURED", "samsung_pay", "Dana Al-Fadhli"),
        ],
        start=1,
    )
]
#: (payment index, amount fils, state) for the refunds: one in every state.
REFUNDS = [
    (0, 500, "refunded"), (0, 250, "initiated"), (1, 100, "pending_approval"), (1, 200, "rejected"),
    (6, 300, "sending"), (7, 400, "uncertain"), (8, 150, "cancelled"), (9, 600, "failed"),
]


def _in_release_code() -> None:
    """Runs with the release's ``services`` first on ``sys.path``."""
    from sqlalchemy import text
    from sqlmodel import Session

    from services import audit
    from services.db import create_schema, make_engine, read_engine, session_scope, sqlite_url
    from services.models import (
        METHOD_FAMILY,
        AuditEntry,
        Payment,
        PaymentEvent,
        Refund,
        Staff,
        SyncState,
        WebhookEvent,
    )
    from services.search import ensure_search_support
    from services.timeutil import local_day

    out = Path(os.environ["SOUQ_FIXTURE_OUT"])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    engine = make_engine(sqlite_url(out))
    create_schema(engine)
    ensure_search_support(engine)  # as the app does at start-up, before any payment arrives: triggers fill it

    with session_scope(engine) as session:
        for n, (email, role) in enumerate([("admin@shop.test", "admin"), ("fin@shop.test", "finance"),
                                           ("sales@shop.test", "sales"), ("view@shop.test", "viewer")]):
            session.add(Staff(email=email, name=f"{role.title()} One", role=role, active=role != "viewer",
                              added_by="admin@shop.test", created_at=T0 + timedelta(minutes=n),
                              updated_at=T0 + timedelta(minutes=n)))
        for i, (order_id, amount, status, result, method, name, phone) in enumerate(PAYMENTS):
            at = T0 + timedelta(hours=7 * i)  # spans several Kuwait days, one crosses midnight
            session.add(Payment(
                order_id=order_id, track_id=f"TRK{i:029d}" if result else None, upay_order_id=f"ME3O{i:06d}",
                payment_id=f"PAY{i:08d}" if status == "paid" else None, amount_fils=amount, status="pending",
                method=method, method_family=METHOD_FAMILY.get(method or ""), customer_name=name,
                customer_phone=phone, customer_email=f"c{i}@mail.test", description=f"Order {order_id} abaya",
                reference=f"REF-{i:05d}", source="link", created_by="sales@shop.test", created_at=at,
                local_day=local_day(at), updated_at=at, link_url=f"https://pay.test/{order_id}", link_state="active",
                raw=json.dumps({"order_id": order_id}),
            ))
        session.flush()
        # Move each payment to its final status with an UPDATE, as ingest does: the update triggers run too.
        for i, (order_id, _amount, status, result, *_rest) in enumerate(PAYMENTS):
            payment = session.execute(text("SELECT id FROM payment WHERE order_id = :o").bindparams(o=order_id)).one()
            session.execute(text("UPDATE payment SET status = :s, result = :r, paid_at = :p, refunded_fils = :f, "
                              "webhook_received = 1 WHERE id = :id").bindparams(
                s=status, r=result, p=(T0 + timedelta(hours=7 * i, minutes=3)).isoformat() if status == "paid"
                else None, f=750 if i == 0 else 0, id=payment[0]))
            session.add(PaymentEvent(payment_pk=payment[0], at=T0 + timedelta(hours=7 * i), kind="created",
                                     actor="sales@shop.test", detail=json.dumps({"amount_fils": _amount})))
            if result:
                session.add(WebhookEvent(
                    received_at=T0 + timedelta(hours=7 * i, minutes=2), source="webhook",
                    content_type="application/x-www-form-urlencoded", body=f"result={result}&order_id={order_id}",
                    dedupe_key=f"{i:064x}", track_id=f"TRK{i:029d}", order_id=order_id, result=result,
                    payment_pk=payment[0], duplicate=False, processed_at=T0 + timedelta(hours=7 * i, minutes=2),
                ))
        session.add(WebhookEvent(received_at=T0, source="redirect", body="{}", dedupe_key="f" * 64,
                                 error="no track id", duplicate=True))
        ids = [row[0] for row in session.execute(text("SELECT id FROM payment ORDER BY id"))]
        for n, (index, amount, state) in enumerate(REFUNDS):
            at = T0 + timedelta(days=3, minutes=n)
            session.add(Refund(
                payment_pk=ids[index], idempotency_key=f"idem-{n:04d}", amount_fils=amount, reason="customer_request",
                note=f"refund {n}", state=state, requested_by="fin@shop.test",
                approved_by="admin@shop.test" if state not in ("pending_approval", "rejected") else None,
                gateway_order_id=f"ME3O{index:06d}R{n}" if state in ("initiated", "refunded") else None,
                gateway_refund_order_id=f"RO{n:030d}" if state in ("initiated", "refunded") else None,
                created_at=at, local_day=local_day(at), updated_at=at,
                refunded_at=at + timedelta(hours=4) if state == "refunded" else None,
                error="declined by gateway" if state == "failed" else None,
            ))
        session.add(SyncState(key="last_sync", value=(T0 + timedelta(days=4)).isoformat(), updated_at=T0))

    # The audit chain with fixed times (audit.record would stamp "now"): the release's own hash function.
    with Session(engine) as session:
        prev = audit.GENESIS_HASH
        for seq in range(1, 21):
            at = T0 + timedelta(minutes=seq)
            before = audit._canonical({"role": "viewer"} if seq % 3 == 0 else None)
            after = audit._canonical({"seq": seq, "note": "ملاحظة"})
            action, target = ("staff.add", f"user{seq}@shop.test") if seq % 2 else ("refund.request", f"ORD-{seq:04d}")
            digest = audit._row_hash(prev, seq, at, "admin@shop.test", action, target, before, after)
            session.add(AuditEntry(seq=seq, at=at, actor="admin@shop.test", action=action, target=target,
                                   before=before, after=after, prev_hash=prev, hash=digest))
            prev = digest
        session.commit()
    assert audit.verify(engine).ok
    read_engine(engine).dispose()
    engine.dispose()
    raw = sqlite3.connect(out, isolation_level=None)  # VACUUM needs no open transaction: plain sqlite3
    raw.execute("PRAGMA journal_mode=DELETE")
    raw.execute("VACUUM")
    raw.close()


def main() -> None:
    """Extract the release's ``services`` to a temp dir and run the builder with it."""
    if os.environ.get("SOUQ_FIXTURE_OUT"):
        _in_release_code()
        return
    archive = subprocess.run(["git", "-C", str(REPO), "archive", RELEASE, "services"], check=True,
                             capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp, "SOUQ_FIXTURE_OUT": str(TARGET)}
        subprocess.run([sys.executable, str(Path(__file__).resolve())], check=True, env=env, cwd=tmp)
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
