"""The start-up warm-up imports what the first log-in would otherwise import while someone waits (issue 15)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from dashboard import startup


def test_every_warm_module_exists_and_is_imported_by_warm_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=startup.__name__):
        startup.warm_up()
    # a misspelt or missing module would be logged, not imported
    assert not [r for r in caplog.records if r.name == startup.__name__]
    assert all(name in sys.modules for name in startup.WARM_MODULES)
    assert "authlib.integrations.starlette_client" in startup.WARM_MODULES  # Streamlit's OIDC routes use it


def test_a_missing_module_is_logged_and_the_rest_still_imported(monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(startup, "WARM_MODULES", ("souq_no_such_module", "json"))
    with caplog.at_level(logging.WARNING, logger=startup.__name__):
        startup.warm_up()
    assert [r.getMessage() for r in caplog.records if r.name == startup.__name__] == [
        "warm-up: could not import souq_no_such_module"]
    assert "json" in sys.modules


def _lifespan_once() -> None:
    import asyncio
    import threading

    async def enter_and_leave() -> None:
        async with startup.lifespan(None):
            pass

    # its own thread: in the full suite Playwright's sync API keeps an event loop running in this one
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(enter_and_leave())
        except BaseException as exc:  # handed back to the test below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


def test_the_server_opens_the_database_at_start_up(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from dashboard import runtime
    from services.db import sqlite_url

    database = tmp_path / "souq.db"
    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(database))
    monkeypatch.setenv("SOUQ_BACKGROUND_SYNC", "false")
    runtime.reset()
    try:
        assert not database.exists()
        _lifespan_once()  # no page has been viewed: the schema is there all the same
        with sqlite3.connect(database) as conn:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"payment", "alembic_version"} <= tables
    finally:
        runtime.reset()


def test_a_database_that_cannot_be_opened_does_not_stop_the_server(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from dashboard import runtime

    monkeypatch.setenv("SOUQ_DATABASE_URL", "postgresql+psycopg://nobody:wrong@127.0.0.1:9/none")
    monkeypatch.setenv("SOUQ_BACKGROUND_SYNC", "false")
    runtime.reset()
    try:
        with caplog.at_level(logging.ERROR, logger=startup.__name__):
            _lifespan_once()
        assert [r.getMessage() for r in caplog.records if r.name == startup.__name__] == [
            "the database could not be opened with the server; the first page view retries"]
    finally:
        runtime.reset()


@pytest.fixture
def thawed() -> Iterator[None]:
    import gc

    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite runs with the collector as usual


def test_warm_up_freezes_the_start_up_heap(thawed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    monkeypatch.setattr(startup, "WARM_MODULES", ("json",))
    assert gc.get_freeze_count() == 0
    startup.warm_up()
    # the modules and their functions are out of the full passes; what a page makes afterwards is not
    assert gc.get_freeze_count() > 10_000
    assert not any(o is startup.warm_up for o in gc.get_objects(generation=2))
    made_after: tuple[list[object], dict[str, list[int]]] = [object() for _ in range(3)], {"a": []}
    assert any(o is made_after for o in gc.get_objects())
