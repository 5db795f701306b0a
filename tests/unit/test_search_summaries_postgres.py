"""PostgreSQL's search summaries (migration 0011) stay equal to the payments they count, on SQLite's keys.

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server; skips otherwise (a database of its own).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.db import session_scope
from services.models import Payment
from services.search import support
from tests.factories import make_db, make_payment
from tests.postgres import postgres_database

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)  # 23:30 in Kuwait: the next UTC hour is the next Kuwait day
#: Each summary as its rows, and the same figures computed from ``payment`` (SQLite's SQL; PostgreSQL's below).
SUMMARIES = {
    "daily": "SELECT day, status, method, family, n, amount FROM payment_search_daily WHERE n != 0",
    "amounts": "SELECT amount, status, method, family, n FROM payment_search_amounts WHERE n != 0",
    "hours": "SELECT hour, method, family, n FROM payment_search_hours WHERE n != 0",
}
_DAY = "to_char((created_at AT TIME ZONE 'UTC') + interval '3 hours', 'YYYY-MM-DD')"
FROM_PAYMENTS = {
    "daily": f"SELECT {_DAY}, status, coalesce(method, ''), coalesce(method_family, ''), count(*), "  # noqa: S608
             "sum(amount_fils) FROM payment GROUP BY 1, 2, 3, 4",
    "amounts": "SELECT amount_fils, status, coalesce(method, ''), coalesce(method_family, ''), count(*) "
               "FROM payment GROUP BY 1, 2, 3, 4",
    "hours": "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24'), coalesce(method, ''), "
             "coalesce(method_family, ''), count(*) FROM payment WHERE status = 'paid' GROUP BY 1, 2, 3",
}


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql``, numbers as ``int`` (PostgreSQL sums are ``Decimal``), sorted."""
    with engine.connect() as conn:
        return sorted(tuple(v if isinstance(v, str) else int(v) for v in row) for row in conn.execute(text(sql)))


def _fill(engine: Engine) -> list[Payment]:
    return [make_payment(engine, created_at=T0 + timedelta(minutes=17 * i), amount_fils=(1_500, 2_750, 40_000)[i % 3],
                         method=("knet", "apple_pay", "card", None)[i % 4],
                         status=("paid", "paid", "failed", "pending", "paid")[i % 5]) for i in range(30)]


def _change(engine: Engine, made: list[Payment]) -> None:
    """A pending payment is captured, a paid one moves an hour and a day, one changes amount and method, one goes."""
    with session_scope(engine) as session:
        first, second, third, fourth = (session.get(Payment, p.id) for p in (made[3], made[0], made[1], made[7]))
        assert first and second and third and fourth
        first.status = "paid"
        second.created_at = T0 + timedelta(hours=5)
        fourth.amount_fils, fourth.method, fourth.method_family = 9_999, "card", "card"
        session.delete(third)


def test_postgres_summaries_follow_inserts_updates_and_deletes(tmp_path) -> None:
    with postgres_database("summaries") as pg:
        assert support.has_summaries(pg)
        made = _fill(pg)
        for name, sql in SUMMARIES.items():
            assert _rows(pg, sql) == _rows(pg, FROM_PAYMENTS[name]) != [], name
        _change(pg, made)
        for name, sql in SUMMARIES.items():
            assert _rows(pg, sql) == _rows(pg, FROM_PAYMENTS[name]), name
        # The same payments and changes on SQLite give the same summaries, row for row.
        lite = make_db(tmp_path)
        _change(lite, _fill(lite))
        for name, sql in SUMMARIES.items():
            assert _rows(pg, sql) == _rows(lite, sql), name


def test_text_condition_on_postgres_is_the_indexed_expression() -> None:
    with postgres_database("trgm") as pg:
        with pg.connect() as conn:
            indexed = conn.execute(text("SELECT pg_get_indexdef('ix_payment_search_text'::regclass)")).scalar_one()
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: make the index the choice
            plan = "\n".join(conn.execute(text(
                f"EXPLAIN SELECT id FROM payment WHERE {support.PG_SEARCH_TEXT} LIKE lower('%noura%')"  # noqa: S608
            )).scalars())
        assert "gin_trgm_ops" in indexed and "search_text" in indexed
        assert "ix_payment_search_text" in plan


#: What migration 0011 indexed and search compared with ILIKE: the eight text columns joined by a space.
JOINED_0011 = "(" + " || ' ' || ".join(f"coalesce(payment.{c}, '')" for c in support.FTS_COLUMNS) + ")"


def test_stored_search_text_matches_the_rows_ilike_matched() -> None:
    """0012 compares the stored lower-cased text with LIKE where 0011 compared the joined columns with ILIKE:
    the same payments for mixed-case, Arabic, digit and e-mail tokens, after inserts and updates too."""
    with postgres_database("stored_text") as pg:
        names = ["Noura Al-Sabah", "NOURA", "noUra x", "سارة العلي", "Ünal ÖZ", None, "Dana"]
        for i, name in enumerate(names):
            make_payment(pg, customer_name=name, customer_email=f"Person{i}@Shop.TEST" if i % 2 else None,
                         description="Order ÄBC" if i % 3 == 0 else "gift", order_id=f"OID-{i:03d}X")
        with pg.begin() as conn:
            conn.execute(text("UPDATE payment SET reference = 'RefNOURA9' WHERE customer_name = 'Dana'"))
        tokens = ["noura", "NOURA", "سارة", "ünal", "öz", "person3", "shop.test", "äbc", "oid-004x", "ref", "zzz"]
        with pg.connect() as conn:
            for token in tokens:
                old = conn.execute(text(f"SELECT id FROM payment WHERE {JOINED_0011} ILIKE :p "  # noqa: S608
                                        "ORDER BY id"), {"p": f"%{token}%"}).scalars().all()
                new = conn.execute(text(f"SELECT id FROM payment WHERE {support.PG_SEARCH_TEXT} LIKE lower(:p) "  # noqa: S608
                                        "ORDER BY id"), {"p": f"%{token}%"}).scalars().all()
                assert old == new, token
            assert conn.execute(text(f"SELECT count(*) FROM payment WHERE {support.PG_SEARCH_TEXT} "  # noqa: S608
                                     "LIKE lower('%NOURA%')")).scalar_one() == 4


def test_broad_text_on_postgres_reports_more_than_the_cap_and_add_up_is_exact(monkeypatch) -> None:
    from services.search import SearchFilter, add_up, search
    from services.search import plan as planner
    from tests.factories import enrol
    from tests.unit.test_search_reference import ADMIN

    with postgres_database("capped") as pg:
        made = [make_payment(pg, created_at=T0 + timedelta(minutes=i), amount_fils=1_000 + i,
                             customer_name=f"Noura {i}" if i % 2 else f"Dana {i}") for i in range(20)]
        enrol(pg, ADMIN)
        nouras = sorted((p for p in made if (p.customer_name or "").startswith("Noura")), key=lambda p: p.id or 0,
                        reverse=True)
        flt = SearchFilter(text="noura")
        exact = search(pg, ADMIN, flt)  # 10 matches, under the cap: summed
        assert (exact.total_count, exact.total_amount_fils, exact.totals_exact) == (
            10, sum(p.amount_fils for p in nouras), True)
        monkeypatch.setattr(planner, "TEXT_TOTALS_CAP", 4)
        page = search(pg, ADMIN, flt, page_size=3)
        assert (page.total_count, page.total_amount_fils, page.totals_exact, page.count_exact) == (4, 0, False, False)
        assert [r.id for r in page.rows] == [p.id for p in nouras[:3]]  # the page itself is unchanged
        total = add_up(pg, ADMIN, flt)
        assert (total.count, total.amount_fils, total.exact) == (10, sum(p.amount_fils for p in nouras), True)


def test_without_the_right_to_create_pg_trgm_the_migration_goes_on_and_search_still_answers() -> None:
    """A database user that may create tables but not extensions: 0011 skips the text index, nothing else."""
    import os

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from services import migrate
    from services.db import make_engine
    from services.search import SearchFilter, search
    from tests.factories import enrol
    from tests.unit.test_search_reference import ADMIN

    role = f"souq_weak_{os.getpid()}"
    with postgres_database("weak", schema=False) as owner:
        url = make_url(owner.url.render_as_string(hide_password=False))
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'weak' NOSUPERUSER")
            conn.exec_driver_sql(f"GRANT ALL ON SCHEMA public TO {role}")  # tables yes; CREATE on the database no
        weak = make_engine(url.set(username=role, password="weak").render_as_string(hide_password=False))
        try:
            migrate.upgrade_to_head(weak)
            with weak.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
                    migrate.head_revision())
                assert conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
                                    ).scalar_one() == 0
                assert conn.execute(text("SELECT to_regclass('ix_payment_search_text')")).scalar_one() is None
            assert support.has_summaries(weak)
            make_payment(weak, customer_name="Noura Al-Sabah", order_id="W-1")
            enrol(weak, ADMIN)
            assert [r.order_id for r in search(weak, ADMIN, SearchFilter(text="sabah")).rows] == ["W-1"]
        finally:
            weak.dispose()
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
                             {"role": role})
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
            admin.dispose()
