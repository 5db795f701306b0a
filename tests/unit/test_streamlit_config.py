"""The server options the app relies on, read the way Streamlit reads them (``.streamlit/config.toml``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_no_forced_full_collection_after_every_run() -> None:
    # A full gc.collect(2) after each script run was most of the server's CPU per click (bench/pages.py).
    assert tomllib.loads(CONFIG.read_text())["runner"]["postScriptGC"] is False


def test_streamlit_reads_the_option_from_this_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    monkeypatch.chdir(CONFIG.parents[1])
    config._config_options = None  # re-read from the working directory, as `streamlit run` does
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("runner.postScriptGC") is False
    finally:
        config._config_options = None
        config.get_config_options(force_reparse=True)
