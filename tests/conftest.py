"""Fixtures for every test: a fresh migrated SQLite database, a gateway that answers nothing, clean process state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from services import policy
from services.gateway import UPaymentsClient
from services.sync.gate import gate
from tests.factories import make_db

CLOSED_GATEWAY = "http://127.0.0.1:9/api/v1/"  # nobody listens on port 9: any call fails at once


@pytest.fixture(autouse=True)
def _fresh_lookup_gate() -> Iterator[None]:
    """The look-up gate remembers ids and senders for minutes; each test starts with none."""
    gate.clear()
    yield
    gate.clear()


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    """Shop rules (services.policy) are process-wide: a test that sets them leaves the defaults behind."""
    policy.configure(policy.DEFAULT)
    yield
    policy.configure(policy.DEFAULT)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """An engine on this test's own SQLite file, migrated to head (a module may extend it: ``def engine(engine)``)."""
    return make_db(tmp_path)


@pytest.fixture
def dead_client() -> Iterator[UPaymentsClient]:
    """A real client aimed at a closed loopback port: any call that leaks through is a visible failure."""
    with UPaymentsClient(CLOSED_GATEWAY, "jtest123", timeout=1, max_retries=0, connect_timeout=1) as client:
        yield client
