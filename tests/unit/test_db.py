"""The database layer: writers serialise on SQLite's write lock, pure reads never wait for it nor write."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.db import read_engine, read_session
from services.models import Staff
from services.permissions import Role
from services.refunds.queries import list_refunds
from services.staff import resolve_actor
from services.sync.inbox import list_events
from tests.factories import make_db, make_staff


def test_reads_go_on_while_a_writer_holds_the_lock(tmp_path) -> None:
    engine = make_db(tmp_path)
    admin = make_staff(engine, Role.ADMIN)
    answers: dict[str, object] = {}

    def read_everything() -> None:
        answers["actor"] = resolve_actor(engine, admin.email)
        answers["inbox"] = list_events(engine, admin)[1]
        answers["refunds"] = list_refunds(engine, admin)[1]

    with engine.connect() as writer:  # BEGIN IMMEDIATE: the write lock, held until the block ends
        writer.execute(text("UPDATE staff SET name = 'renamed' WHERE email = :e"), {"e": admin.email})
        reader = threading.Thread(target=read_everything)
        reader.start()
        reader.join(timeout=10)  # with the write lock taken by readers too, this would wait the 30 s busy timeout
        finished_while_locked = not reader.is_alive()
        writer.commit()
    reader.join()
    assert finished_while_locked
    actor = answers["actor"]
    assert actor is not None and getattr(actor, "name", None) != "renamed"  # the snapshot before the commit
    assert answers["inbox"] == 0 and answers["refunds"] == 0
    assert resolve_actor(engine, admin.email).name == "renamed"  # type: ignore[union-attr]


def test_the_read_session_cannot_write(tmp_path) -> None:
    engine = make_db(tmp_path)
    assert read_engine(engine) is read_engine(engine) and read_engine(engine) is not engine
    with read_session(engine) as session:
        session.add(Staff(email="x@shop.test", role="viewer"))
        with pytest.raises(OperationalError, match="readonly"):
            session.flush()
