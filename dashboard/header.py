"""Login screen, no-access screen and the sidebar header (user, role, gateway, TEST ribbon, freshness)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlalchemy.engine import Engine
from streamlit.navigation.page import StreamlitPage

from dashboard import i18n, lang
from dashboard.formatting import ago
from dashboard.i18n import N_, _
from dashboard.navigation import PageSpec, refusal_text
from dashboard.safe import md, md_iso
from dashboard.settings import Settings
from services.permissions import Actor
from services.sync import get_time

ROLE_LABELS = {"admin": N_("admin"), "finance": N_("finance"), "sales": N_("sales"), "viewer": N_("viewer")}


def _ribbon(settings: Settings) -> None:
    if settings.is_test_gateway:
        label = _("DEMO — no real money") if settings.demo else _("TEST / SANDBOX — no real money")
        st.markdown(
            f'<div data-testid="test-ribbon" style="background:#b45309;color:#fff;font-weight:700;'
            f'text-align:center;padding:4px;border-radius:6px;letter-spacing:.08em">{label}</div>',
            unsafe_allow_html=True,  # constant text from our catalog only, never user data
        )


def login_screen(settings: Settings) -> None:
    """The only thing an anonymous visitor sees."""
    _ribbon(settings)
    st.title(_("Souq Desk"))
    shop = settings.shop_name_ar if i18n.current() == "ar" and settings.shop_name_ar else settings.shop_name
    st.write(_("The payments desk of **{shop}**: payment links, transactions, refunds, analytics.").format(
        shop=md_iso(shop)))
    st.button(_("Log in with your company account"), key="login", type="primary", on_click=st.login)


def no_access_screen(email: str) -> None:
    """A logged-in person who is not on the staff list."""
    st.title(_("No access yet"))
    st.info(_("You are signed in as **{email}**, but this account is not on the staff list. "
              "Ask your admin to add you, then reload this page.").format(email=md_iso(email)))
    st.button(_("Log out"), key="logout", on_click=st.logout)


def sidebar(actor: Actor, settings: Settings, engine: Engine) -> None:
    """Who is logged in, with which role, against which gateway, and how fresh the cache is."""
    with st.sidebar:
        _ribbon(settings)
        st.markdown(f"**{md_iso(actor.name or actor.email)}**  \n{md_iso(actor.email)}")
        st.caption(_("Role: **{role}**").format(role=_(ROLE_LABELS.get(actor.role.value, "viewer"))))
        st.caption(_("Gateway: {gateway}").format(gateway=md_iso(settings.gateway_label())))
        last = get_time(engine)
        st.caption(_("Synced: {when}").format(when=ago(last)),
                   help=_("When the last status sync with the gateway finished."))
        lang.switcher(engine)
        st.button(_("Log out"), key="logout", on_click=st.logout)


def go_to(target: StreamlitPage) -> Callable[[], None]:
    """A page body that opens ``target`` (the first page is served at the root; its own name leads there)."""

    def body() -> None:
        st.switch_page(target)

    return body


def refusal_page(spec: PageSpec) -> Callable[[], None]:
    """A page body saying politely that this role may not open ``spec``."""

    def body() -> None:
        st.title(md(_(spec.title)))
        st.info(md(refusal_text(spec)), icon=":material/lock:")

    return body
