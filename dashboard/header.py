"""Login screen, no-access screen and the sidebar header (user, role, gateway, TEST ribbon, freshness)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlalchemy.engine import Engine
from streamlit.navigation.page import StreamlitPage

from dashboard.formatting import ago
from dashboard.navigation import PageSpec, refusal_text
from dashboard.safe import md
from dashboard.settings import Settings
from services.permissions import Actor
from services.sync import get_time


def _ribbon(settings: Settings) -> None:
    if settings.is_test_gateway:
        label = "DEMO" if settings.demo else "TEST / SANDBOX"
        st.markdown(
            f'<div data-testid="test-ribbon" style="background:#b45309;color:#fff;font-weight:700;'
            f'text-align:center;padding:4px;border-radius:6px;letter-spacing:.08em">{label} — no real money</div>',
            unsafe_allow_html=True,  # constant text only, never user data
        )


def login_screen(settings: Settings) -> None:
    """The only thing an anonymous visitor sees."""
    _ribbon(settings)
    st.title("Souq Desk")
    st.write(f"The payments desk of **{md(settings.shop_name)}**: payment links, transactions, refunds, analytics.")
    st.button("Log in with your company account", key="login", type="primary", on_click=st.login)


def no_access_screen(email: str) -> None:
    """A logged-in person who is not on the staff list."""
    st.title("No access yet")
    st.info(f"You are signed in as **{md(email)}**, but this account is not on the staff list. "
            "Ask your admin to add you, then reload this page.")
    st.button("Log out", key="logout", on_click=st.logout)


def sidebar(actor: Actor, settings: Settings, engine: Engine) -> None:
    """Who is logged in, with which role, against which gateway, and how fresh the cache is."""
    with st.sidebar:
        _ribbon(settings)
        st.markdown(f"**{md(actor.name or actor.email)}**  \n{md(actor.email)}")
        st.caption(f"Role: **{md(actor.role.value)}**")
        st.caption(f"Gateway: {md(settings.gateway_label())}")
        last = get_time(engine)
        st.caption(f"Synced: {ago(last)}", help="When the last status sync with the gateway finished.")
        st.button("Log out", key="logout", on_click=st.logout)


def go_to(target: StreamlitPage) -> Callable[[], None]:
    """A page body that opens ``target`` (the first page is served at the root; its own name leads there)."""

    def body() -> None:
        st.switch_page(target)

    return body


def refusal_page(spec: PageSpec) -> Callable[[], None]:
    """A page body saying politely that this role may not open ``spec``."""

    def body() -> None:
        st.title(md(spec.title))
        st.info(md(refusal_text(spec)), icon=":material/lock:")

    return body
