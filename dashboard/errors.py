"""Turn known errors into one clear sentence on the page; log the technical detail, never a stack trace."""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.safe import md
from services.permissions import PermissionDenied

log = logging.getLogger(__name__)


def explain(exc: BaseException) -> str:
    """One sentence for a person: what failed and what to do."""
    if isinstance(exc, PermissionDenied):
        return f"{exc} Ask an admin if you need this."
    try:
        from services.gateway import errors as gw
    except ImportError:  # pragma: no cover - the gateway package is always present in the app
        gw = None  # type: ignore[assignment]
    if gw is not None:
        if isinstance(exc, gw.GatewayTimeout):
            return "The payment gateway did not answer in time; nothing was sent twice — try again in a minute."
        if isinstance(exc, gw.GatewayConnectionError):
            return "The payment gateway could not be reached; check the connection and try again."
        if isinstance(exc, gw.RateLimited):
            return "The payment gateway asks us to slow down; try again in a minute."
        if isinstance(exc, gw.AuthenticationError):
            return "The payment gateway refused our API key; an admin must check the gateway token."
        if isinstance(exc, gw.GatewayError):
            return f"The payment gateway refused the request: {exc}"
    if isinstance(exc, ValueError):
        return str(exc)
    return "Something went wrong; the details were logged for the team."


def show_error(exc: BaseException) -> None:
    """Render ``exc`` as one clear sentence; unexpected errors are logged with their stack trace."""
    known = isinstance(exc, (ValueError, PermissionDenied)) or type(exc).__module__.startswith("services.")
    if not known:
        log.exception("unexpected error on a page", exc_info=exc)
    else:
        log.info("refused: %s", exc)
    st.error(md(explain(exc)))  # messages carry input, gateway text and ids: data, never markup
