"""Fixtures for every test: per-process gateway look-up state starts empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services import policy
from services.sync.gate import gate


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
