"""Turn known errors into one clear sentence on the page; log the technical detail, never a stack trace."""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.safe import md
from services.gateway.errors import GatewayError
from services.gateway.sentences import staff_sentence
from services.permissions import PermissionDenied

log = logging.getLogger(__name__)


def explain(exc: BaseException) -> str:
    """One sentence for a person: what failed and what to do."""
    if isinstance(exc, PermissionDenied):
        return f"{exc} Ask an admin if you need this."
    if isinstance(exc, GatewayError):
        return staff_sentence(exc)
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
