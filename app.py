"""The Streamlit script: login gate, staff lookup, per-role navigation, header. Run via streamlit_app.py."""

from __future__ import annotations

import streamlit as st

from dashboard import background, header, lang, state
from dashboard.i18n import _
from dashboard.navigation import PAGES, pages_for

# An emoji favicon is drawn in the browser; a ":material/…:" one would be fetched from an outside font host.
st.set_page_config(page_title="Souq Desk", page_icon="🏪", layout="wide")

if not st.user.get("is_logged_in", False):
    lang.apply(None, None)  # the browser's language before anyone is known
    header.login_screen(state.settings())
    st.stop()

actor = state.current_actor()
lang.apply(state.engine(), actor)  # the person's language for this run, right to left in Arabic
if actor is None:
    header.no_access_screen(str(st.user.get("email") or _("this account")))
    st.stop()

if state.settings().background_sync:
    background.ensure_started(state.settings(), state.engine(), state.gateway())

specs = pages_for(actor)
sections: dict[str, list[st.Page]] = {}
for spec in specs:
    sections.setdefault(_(spec.section), []).append(
        st.Page(spec.path, title=_(spec.title), icon=spec.icon, url_path=spec.url_path)
    )
# The root opens the role's first page under its own name, so a bookmark of either address works.
first = sections[_(specs[0].section)][0]
home = st.Page(header.go_to(first), title=_(specs[0].title), url_path="home", default=True, visibility="hidden")
# Hidden pages answer the addresses of the pages this role may not open, saying so politely instead of
# Streamlit's "Page not found" (a bookmark, a colleague's link). The services still refuse the role.
hidden = [st.Page(header.refusal_page(spec), title=_(spec.title), icon=spec.icon, url_path=spec.url_path,
                   visibility="hidden") for spec in PAGES if spec not in specs]
sections[_(specs[0].section)].extend([home, *hidden])
current = st.navigation(sections)
header.sidebar(actor, state.settings(), state.engine())
current.run()
