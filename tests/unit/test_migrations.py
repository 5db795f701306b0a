"""The schema under Alembic: empty databases, the baseline equal to release 268e121, adopting that release's
databases with their rows, concurrent start-up, and models that agree with the migrations."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from services import audit, migrate
from services.customers.names import fold_arabic
from services.db import create_schema, make_engine, read_engine, sqlite_url
from services.permissions import Actor, Role
from services.search import SearchFilter, search, totals
from tests.factories import enrol, make_payment
from tests.postgres import postgres_database

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "release_268e121.sqlite-fixture"
RELEASE = "268e121"
FIN = Actor("fin@shop.test", Role.FINANCE)


def _search(engine, flt: SearchFilter):
    """search() as a finance person on the staff list (services re-read the staff row)."""
    enrol(engine, FIN)
    return search(engine, FIN, flt)
ROW_COUNTS = {"payment": 12, "refund": 8, "webhookevent": 11, "staff": 4, "auditentry": 20, "paymentevent": 12,
              "syncstate": 1}


def _upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = migrate.alembic_config()
    with engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return migrate.current_revision(conn)


def schema_snapshot(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys and indexes by inspection; on SQLite also every ``sqlite_master`` object's SQL."""
    snap: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes can't be reflected; sqlite_master has them below
        insp = inspect(engine)
        for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
            snap[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                              for f in insp.get_foreign_keys(table)),
                "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
                "indexes": sorted((i["name"], tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(table)),
            }
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                        "WHERE name != 'alembic_version' AND name NOT LIKE 'sqlite_autoindex_alembic%'")
            snap["sqlite_master"] = sorted((t, n, tb, _squeeze(s)) for t, n, tb, s in rows)
    return snap


def _squeeze(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").replace("( ", "(").replace(" )", ")")


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy of the database release 268e121 wrote (no alembic_version)."""
    path = tmp_path / "legacy.db"
    shutil.copyfile(FIXTURE, path)
    return path


@pytest.fixture(scope="module")
def release_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Release 268e121's ``services`` package, extracted from git (to build its schema on PostgreSQL)."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", RELEASE, "services"], check=True,
                                 capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with {RELEASE} is not available")
    folder = tmp_path_factory.mktemp("release")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_alembic_upgrade_head_by_hand_builds_the_schema_on_empty_sqlite(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "by-hand.db")
    env = {**os.environ, "SOUQ_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    assert _revision(engine) == migrate.head_revision()
    assert set(ROW_COUNTS) | {"payment_fts", "payment_search_daily"} <= set(inspect(engine).get_table_names())


def test_baseline_equals_the_schema_release_268e121_built_on_sqlite(tmp_path: Path) -> None:
    fresh = make_engine(sqlite_url(tmp_path / "fresh.db"))
    _upgrade(fresh, migrate.BASELINE)
    copy = tmp_path / "release.db"
    shutil.copyfile(FIXTURE, copy)
    expected = schema_snapshot(make_engine(sqlite_url(copy)))
    got = schema_snapshot(fresh)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name
    triggers = [row for row in got["sqlite_master"] if row[0] == "trigger"]
    assert len(triggers) == 9


def test_upgrade_on_empty_sqlite_matches_the_models_and_keeps_search_working(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "empty.db"))
    assert migrate.upgrade_to_head(engine) is True
    assert migrate.upgrade_to_head(engine) is False
    assert _revision(engine) == migrate.head_revision()
    _assert_models_agree(engine)
    make_payment(engine, order_id="N1", customer_name="Noura", amount_fils=2_000)
    assert [r.order_id for r in _search(engine, SearchFilter(text="nou")).rows] == ["N1"]
    assert totals(engine, SearchFilter(statuses={"paid"})).amount_fils == 2_000


def _assert_models_agree(engine: Engine) -> None:
    """``alembic check``: autogenerate finds nothing between the migrated database and the models."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object, "compare_type": True})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert compare_metadata(ctx, SQLModel.metadata) == []


def test_a_model_change_without_a_migration_is_caught(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "check.db"))
    create_schema(engine)
    changed = MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["webhookevent"].append_column(Column("loyalty_points", Integer, nullable=True))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = compare_metadata(ctx, changed)
    assert [(op[0], op[2], op[3].name) for op in diff] == [("add_column", "webhookevent", "loyalty_points")]


def _rows_keys(engine: Engine) -> list[tuple[str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT DISTINCT COALESCE(customer_phone, 'email:' || lower(customer_email)) FROM payment "
            "WHERE COALESCE(customer_phone, customer_email) IS NOT NULL")]


def test_release_268e121_database_is_adopted_with_every_row(legacy: Path) -> None:
    raw_before = _rows(legacy)
    engine = make_engine(sqlite_url(legacy))
    assert _revision(engine) is None
    create_schema(engine)  # what every process does at start-up
    assert _revision(engine) == migrate.head_revision()
    after = _rows(legacy)  # every row of every table, summary and text index included; later migrations only
    # Later migrations append columns (each old row is the start of its new row) or add tables of their own.
    name_index = {"customer_name", "customer_name_fts", "customer_name_fts_data", "customer_name_fts_idx",
                  "customer_name_fts_docsize", "customer_name_fts_config"}
    assert after.keys() - raw_before.keys() == {"customer_summary", "customer_consent", "card_charge", "deposit",
                                                "payment_search_hours", "status_slot",
                                                "settlement_deposited"} | name_index
    assert {(key, words) for _, key, words in after["customer_name"]} == {  # 0010 back-filled the named customers
        (row[0], fold_arabic(row[1])) for row in after["customer_summary"] if row[1]}
    assert all(not after[table] for table in ("deposit", "customer_consent", "card_charge", "status_slot",
                                              "settlement_deposited"))  # no deposit yet: nothing deposited
    assert {row[0] for row in after["customer_summary"]} == {  # 0003 back-filled one row per customer
        row[0] for row in _rows_keys(engine)}
    assert after["payment_search_hours"] == sorted(_hours_from_payments(legacy), key=repr)  # 0006 filled it
    for table, rows in raw_before.items():
        assert [row[:len(old)] for row, old in zip(after[table], rows, strict=True)] == rows, table
    with engine.connect() as conn:
        for table, n in ROW_COUNTS.items():
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == n, table  # noqa: S608
        states = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT state FROM refund")}
        assert states == {"refunded", "initiated", "pending_approval", "rejected", "sending", "uncertain",
                          "cancelled", "failed"}
        assert conn.exec_driver_sql("SELECT customer_name, amount_fils, status FROM payment WHERE order_id = "
                                    "'ORD-0010'").one() == ("فاطمة الصباح", 1750, "paid")
    assert audit.verify(engine) == audit.VerifyResult(True, 20)
    _assert_models_agree(engine)
    assert [r.order_id for r in _search(engine, SearchFilter(text="fatima")).rows] == ["ORD-0001"]
    assert [r.order_id for r in _search(engine, SearchFilter(text="الصباح")).rows] == ["ORD-0010"]
    paid = totals(engine, SearchFilter(statuses={"paid"}))
    with engine.connect() as conn:
        want = conn.exec_driver_sql("SELECT count(*), sum(amount_fils) FROM payment WHERE status = 'paid'").one()
    assert (paid.count, paid.amount_fils) == tuple(want) == (7, 10_500)
    make_payment(engine, order_id="AFTER-UPGRADE", customer_name="Mubarak", amount_fils=999)  # triggers still fire
    assert [r.order_id for r in _search(engine, SearchFilter(text="mubarak")).rows] == ["AFTER-UPGRADE"]
    assert totals(engine, SearchFilter(statuses={"paid"})).amount_fils == 10_500 + 999
    read_engine(engine).dispose()
    engine.dispose()


def _hours_from_payments(path: Path) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT substr(created_at, 1, 13), coalesce(method, ''), coalesce(method_family, ''), "
                            "count(*) FROM payment WHERE status = 'paid' GROUP BY 1, 2, 3").fetchall()
    conn.close()
    return rows


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table except Alembic's own, read with plain sqlite3."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                                            "('alembic_version') AND name NOT LIKE 'payment_fts_%'")]
        out = {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)  # noqa: S608
               for name in names if name != "payment_fts"}
        out["payment_fts match"] = conn.execute("SELECT rowid FROM payment_fts WHERE payment_fts MATCH 'abaya' "
                                                "ORDER BY rowid").fetchall()
    conn.close()
    return out


def test_pre_migration_database_without_search_support_gets_it_filled_from_its_rows(tmp_path: Path) -> None:
    # A release 268e121 process that never searched (the sync CLI) left tables and rows but no summary or index.
    engine = make_engine(sqlite_url(tmp_path / "bare.db"))
    SQLModel.metadata.create_all(engine)
    make_payment(engine, order_id="OLD-1", customer_name="Abdullah", amount_fils=4_000)
    make_payment(engine, order_id="OLD-2", customer_name="Hamad", amount_fils=1_000, status="failed")
    engine.dispose()
    engine = make_engine(sqlite_url(tmp_path / "bare.db"))
    assert migrate.upgrade_to_head(engine) is True
    assert [r.order_id for r in _search(engine, SearchFilter(text="abdul")).rows] == ["OLD-1"]
    everything = totals(engine, SearchFilter())
    assert (everything.count, everything.amount_fils, everything.captured_amount_fils) == (2, 5_000, 4_000)
    assert totals(engine, SearchFilter(amount_min=1_000, amount_max=1_000)).count == 1


_RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from services.db import make_engine
    from services.migrate import upgrade_to_head
    engine = make_engine(sys.argv[1])
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    print("applied" if upgrade_to_head(engine) else "found-at-head")
""")


def _race(url: str, tmp_path: Path, n: int = 2) -> list[str]:
    """Start ``n`` processes that upgrade ``url`` at the same moment; their answers."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, url, str(go)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    time.sleep(2.0)  # let every racer import and wait at the line (not a timing assertion)
    go.touch()
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        answers.append(out.strip())
    return sorted(answers)


def test_two_processes_upgrading_one_empty_sqlite_file_at_once_apply_it_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "race.db")
    assert _race(url, tmp_path) == ["applied", "found-at-head"]
    assert _revision(make_engine(url)) == migrate.head_revision()


@pytest.fixture
def empty_postgres() -> Iterator[Engine]:
    with postgres_database("migrate", schema=False) as engine:
        yield engine


@pytest.mark.postgres
def test_upgrade_on_empty_postgres_equals_release_268e121_and_the_models(empty_postgres: Engine,
                                                                         release_code: Path) -> None:
    _upgrade(empty_postgres, migrate.BASELINE)
    got = schema_snapshot(empty_postgres)
    with postgres_database("release") as reference:  # the database name only; the release builds its schema
        url = reference.url.render_as_string(hide_password=False)
        with reference.connect() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version, deposit, status_slot, paymentevent, refund, payment, "
                                 "webhookevent, staff, auditentry, syncstate, card_charge, customer_consent, "
                                 "customer_summary, customer_name, payment_search_daily, payment_search_amounts, "
                                 "payment_search_hours")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS customer_summary_sync()")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS customer_name_sync()")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS payment_search_sync()")
            conn.commit()
        build = ("import sys; from services.db import create_schema, make_engine; "
                 "create_schema(make_engine(sys.argv[1]))")
        subprocess.run([sys.executable, "-c", build, url], cwd=release_code, check=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(release_code)})
        assert got == schema_snapshot(reference)
    assert migrate.upgrade_to_head(empty_postgres) is (migrate.head_revision() != migrate.BASELINE)
    assert _revision(empty_postgres) == migrate.head_revision()
    _assert_models_agree(empty_postgres)
    make_payment(empty_postgres, order_id="PG-1", customer_name="Noura", amount_fils=2_000)
    assert [r.order_id for r in _search(empty_postgres, SearchFilter(text="noura")).rows] == ["PG-1"]


@pytest.mark.postgres
def test_two_processes_upgrading_one_empty_postgres_at_once_apply_it_once(empty_postgres: Engine,
                                                                          tmp_path: Path) -> None:
    url = empty_postgres.url.render_as_string(hide_password=False)
    assert _race(url, tmp_path, n=3) == ["applied", "found-at-head", "found-at-head"]
    with empty_postgres.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            migrate.head_revision()]
        assert conn.execute(text("SELECT count(*) FROM payment")).scalar() == 0
