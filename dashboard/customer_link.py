"""The small "Customer page" link shown on a payment (Transactions) and a link (Links) detail."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from dashboard.i18n import _
from services.permissions import Action, Actor


def customer_page_link(actor: Actor, payment_pk: int | None, *, has_contact: bool) -> None:
    """Link to the customer of this payment; the customers page resolves the customer from the payment id, so
    no phone number travels in the URL. Nothing when the page is not part of this app run (a single-page test)."""
    if not has_contact or payment_pk is None or not actor.can(Action.VIEW_CUSTOMERS):
        return
    try:
        st.page_link("pages/customers.py", label=_("Customer page"), icon=":material/person:",
                     query_params={"payment": str(payment_pk)})
    except StreamlitPageNotFoundError:
        return
