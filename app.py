"""The Streamlit script: login gate, staff lookup, per-role navigation, header. Run via streamlit_app.py."""

from __future__ import annotations

import streamlit as st

from dashboard import background, header, state
from dashboard.navigation import pages_for

st.set_page_config(page_title="Souq Desk", page_icon=":material/storefront:", layout="wide")

if not st.user.get("is_logged_in", False):
    header.login_screen(state.settings())
    st.stop()

actor = state.current_actor()
if actor is None:
    header.no_access_screen(str(st.user.get("email") or "this account"))
    st.stop()

if state.settings().background_sync:
    background.ensure_started(state.settings(), state.engine(), state.gateway())

specs = pages_for(actor)
sections: dict[str, list[st.Page]] = {}
for spec in specs:
    sections.setdefault(spec.section, []).append(
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec is specs[0])
    )
current = st.navigation(sections)
header.sidebar(actor, state.settings(), state.engine())
current.run()
