"""Previous / Next paging for pages that keep their page number in ``st.session_state``."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.i18n import _


def page_count(total: int, page_size: int) -> int:
    """How many pages ``total`` rows fill (at least one)."""
    return max(1, -(-total // page_size))


def pager(state_key: str, key_prefix: str, page: int, pages: int) -> DeltaGenerator:
    """Previous / Next buttons that move ``st.session_state[state_key]``; returns the free column beside them."""
    nav = st.columns([1, 1, 4])
    if nav[0].button(_("Previous"), icon=":material/chevron_left:", key=f"{key_prefix}_prev", disabled=page <= 1):
        st.session_state[state_key] = page - 1
        st.rerun()
    if nav[1].button(_("Next"), icon=":material/chevron_right:", icon_position="right", key=f"{key_prefix}_next",
                     disabled=page >= pages):
        st.session_state[state_key] = page + 1
        st.rerun()
    return nav[2]
