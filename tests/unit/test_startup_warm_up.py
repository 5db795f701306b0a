"""The start-up warm-up imports what the first log-in would otherwise import while someone waits (issue 15)."""

from __future__ import annotations

import logging
import sys

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
