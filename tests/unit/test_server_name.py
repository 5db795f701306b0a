"""``SOUQ_SERVER_NAME``: the only name ``/api/health`` gives a server; a short operator-chosen label, or nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.settings import SettingsError, load_settings

_SAFE = re.compile(r"[A-Za-z0-9._-]{0,32}")


def test_default_is_empty(monkeypatch) -> None:
    monkeypatch.delenv("SOUQ_SERVER_NAME", raising=False)
    assert load_settings().server_name == ""


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=40) | st.from_regex(r"[A-Za-z0-9._-]{0,34}", fullmatch=True))
def test_a_name_is_kept_exactly_or_refused_with_a_sentence(name: str) -> None:
    mp = pytest.MonkeyPatch()
    try:
        if "\x00" in name:  # an environment variable cannot hold NUL
            return
        mp.setenv("SOUQ_SERVER_NAME", name)
        if _SAFE.fullmatch(name):
            assert load_settings().server_name == name
        else:
            with pytest.raises(SettingsError, match="SOUQ_SERVER_NAME"):
                load_settings()
    finally:
        mp.undo()
