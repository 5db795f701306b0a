"""The server options the app relies on, read the way Streamlit reads them (``.streamlit/config.toml``)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_no_forced_full_collection_after_every_run() -> None:
    # A full gc.collect(2) after each script run was most of the server's CPU per click (bench/pages.py).
    assert tomllib.loads(CONFIG.read_text())["runner"]["postScriptGC"] is False


def test_no_page_relies_on_magic_which_is_off() -> None:
    # With runner.magicEnabled off a bare expression would silently show nothing: there must be none.
    assert tomllib.loads(CONFIG.read_text())["runner"]["magicEnabled"] is False
    root = CONFIG.parents[1]
    bare = []
    for script in [root / "app.py", root / "streamlit_app.py", *sorted((root / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            body = getattr(node, "body", None)
            for n, statement in enumerate(body if isinstance(body, list) else []):
                value = statement.value if isinstance(statement, ast.Expr) else None
                docstring = n == 0 and isinstance(value, ast.Constant) and isinstance(value.value, str)
                if value is not None and not docstring and not isinstance(value, ast.Call | ast.Await):
                    bare.append(f"{script.name}:{statement.lineno}")
    assert bare == []


def test_streamlit_reads_the_option_from_this_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    monkeypatch.chdir(CONFIG.parents[1])
    config._config_options = None  # re-read from the working directory, as `streamlit run` does
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_option("runner.magicEnabled") is False
    finally:
        config._config_options = None
        config.get_config_options(force_reparse=True)
