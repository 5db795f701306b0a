"""The audit-log page (AppTest) and its audited CSV export: browse, filter, verify OK / BROKEN, neutralised cells."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services import audit
from services.db import session_scope
from services.permissions import PermissionDenied, Role
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_staff

PAGE = PAGES / "audit.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, gateway_url=None, db_name="audit.db") as engine:
        with session_scope(engine) as session:
            audit.record(session, actor="amal@shop.test", action="staff_added", target="sara@shop.test",
                         after={"role": "sales"})
            audit.record(session, actor="fahad@shop.test", action="refund_requested",
                         target="refund:1 order:ORD-9", after={"amount": "=1+1"})
            audit.record(session, actor="noura@shop.test", action="refund_approved", target="refund:1 order:ORD-9")
        yield engine


def _page(email: str) -> AppTest:
    return run_page(PAGE, email, name=False)


def test_admin_browses_filters_and_verifies_the_chain(env) -> None:
    make_staff(env, Role.ADMIN, "amal@shop.test")
    at = _page("amal@shop.test")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Action"]) == ["refund_approved", "refund_requested", "staff_added"]
    at.selectbox(key="audit_action").set_value("refund_requested")
    at.button[[b.label for b in at.button].index("Apply filters")].click().run()
    assert list(at.dataframe[0].value["Actor"]) == ["fahad@shop.test"]
    at.button(key="audit_verify").click().run()
    assert "Chain OK" in at.success[0].value and "3 entries" in at.success[0].value
    with env.begin() as conn:  # someone edits a row behind the dashboard's back
        conn.execute(text("UPDATE auditentry SET actor = 'someone@else.test' WHERE seq = 2"))
    at.button(key="audit_verify").click().run()
    assert "Chain BROKEN at entry 2" in at.error[0].value and "changed after it was written" in at.error[0].value


def test_export_is_audited_and_neutralises_formula_cells(env) -> None:
    admin = make_staff(env, Role.ADMIN, "amal@shop.test")
    lines = list(audit.export_csv(env, admin, audit.AuditFilter(target="ORD-9")))
    assert lines[0].startswith("seq,at_utc,actor,action,target,before,after")
    assert len(lines) == 3  # header + the two refund rows (the export row's target is "audit")
    assert "'{" not in lines[1] and '"{""amount"":""=1+1""}"' in lines[1]  # JSON starts with {, not a formula
    last = audit.list_entries(env, admin)[0][0]
    assert last.action == "audit_exported"
    assert json.loads(last.after or "") == {"filters": {"target": "ORD-9"}, "rows": 2}
    assert audit._cell("=cmd") == "'=cmd" and audit._cell("-1") == "'-1" and audit._cell("@x") == "'@x"
    assert audit.verify(env).ok


@pytest.mark.parametrize("role", [Role.FINANCE, Role.SALES, Role.VIEWER])
def test_only_admins_may_read_or_export_the_audit_log(env, role) -> None:
    someone = make_staff(env, role)
    with pytest.raises(PermissionDenied):
        audit.list_entries(env, someone)
    with pytest.raises(PermissionDenied):
        audit.export_csv(env, someone)
    with pytest.raises(PermissionDenied):
        audit.verify(env, someone)
    assert audit.list_entries(env, make_staff(env, Role.ADMIN))[1] == 3  # nothing was recorded
