"""A page's address answers with Streamlit's index.html naming the server's base (dashboard.page_entry)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit import file_util

from dashboard import page_entry
from dashboard.navigation import PAGES
from dashboard.routes import routes


def _client() -> TestClient:
    return TestClient(Starlette(routes=routes()))


def test_every_page_address_gets_the_index_with_the_base_named_before_the_frontend_runs() -> None:
    assert page_entry.static_dir() == Path(file_util.get_static_dir())  # where Streamlit serves it from
    index = (page_entry.static_dir() / "index.html").read_text(encoding="utf-8")
    client = _client()
    for path in [f"/{spec.url_path}" for spec in PAGES] + ["/home"]:
        answer = client.get(path + "?payment=ORD-1")
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-cache"  # as Streamlit serves its HTML
        body = answer.text
        assert body.replace(page_entry.BASE_HOOK, "", 1) == index  # Streamlit's page, one script added
        assert body.index("BACKEND_BASE_URL") < body.index('<script type="module"')


def test_other_addresses_are_left_to_streamlit() -> None:
    client = _client()
    for path in ("/", "/nope", "/refunds/_stcore/health", "/_stcore/host-config", "/static/js/x.js"):
        assert client.get(path).status_code == 404, path  # no route here: Streamlit's own handlers answer them


def test_an_index_without_a_module_script_is_served_unchanged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><head></head><body>x</body></html>", encoding="utf-8")
    monkeypatch.setattr(page_entry, "static_dir", lambda: tmp_path)
    page_entry.page_html.cache_clear()
    try:
        assert page_entry.page_html() == "<html><head></head><body>x</body></html>"
    finally:
        page_entry.page_html.cache_clear()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=3_000), raw=st.binary(max_size=200))
def test_any_query_string_gets_the_same_page_and_is_never_written_into_it(query: str, raw: bytes) -> None:
    client = _client()
    answer = client.get("/refunds", params={"payment": query, "q": raw.decode("latin-1")})
    assert answer.status_code == 200
    assert answer.text == page_entry.page_html()  # nothing of the address is echoed into the HTML


def test_other_verbs_on_a_page_address_are_refused() -> None:
    client = _client()
    assert client.head("/refunds").status_code == 200
    for verb in ("POST", "PUT", "DELETE"):
        assert client.request(verb, "/refunds", content=b"\x00" * 10_000).status_code == 405
