"""The audit log is append-only and hash-chained: any edit or deletion is detected by verify()."""

from __future__ import annotations

import pytest

from services import audit
from services.db import session_scope
from services.permissions import PermissionDenied, Role
from tests.factories import make_db, make_staff


def _write(engine, n: int) -> None:
    for i in range(n):
        with session_scope(engine) as session:
            audit.record(session, actor="a@shop.test", action="link_created", target=f"ORD-{i}",
                         before=None, after={"amount_fils": 1000 + i, "note": "ملاحظة"})


def test_chain_verifies_and_lists(tmp_path) -> None:
    engine = make_db(tmp_path)
    _write(engine, 5)
    assert audit.verify(engine) == audit.VerifyResult(True, 5)
    admin = make_staff(engine, Role.ADMIN)
    rows, total = audit.list_entries(engine, admin, audit.AuditFilter(target="ORD-3"))
    assert total == 1 and rows[0].target == "ORD-3"
    assert [e.seq for e in audit.iter_for_export(engine, admin)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "tamper, seq",
    [
        ("UPDATE auditentry SET after = '{\"amount_fils\":1}' WHERE seq = 3", 3),
        ("UPDATE auditentry SET actor = 'someone@else' WHERE seq = 1", 1),
        ("DELETE FROM auditentry WHERE seq = 2", 2),
        ("UPDATE auditentry SET prev_hash = '" + "1" * 64 + "' WHERE seq = 4", 4),
    ],
)
def test_tampering_is_detected(tmp_path, tamper: str, seq: int) -> None:
    engine = make_db(tmp_path)
    _write(engine, 5)
    with engine.begin() as conn:
        conn.exec_driver_sql(tamper)
    result = audit.verify(engine)
    assert not result.ok
    assert result.first_bad_seq == seq


def test_viewer_cannot_read_or_export_the_audit_log(tmp_path) -> None:
    engine = make_db(tmp_path)
    viewer = make_staff(engine, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        audit.list_entries(engine, viewer)
    with pytest.raises(PermissionDenied):
        list(audit.iter_for_export(engine, viewer))
    with pytest.raises(PermissionDenied):
        audit.verify(engine, viewer)
