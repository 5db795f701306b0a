"""Turn known errors into one clear sentence on the page, in the person's language; log the technical detail,
never a stack trace.

A service's sentence built with ``services.sentence.say`` is translated and its values (input, ids, amounts) are
shown escaped and bidi-isolated; any other message is looked up as it is and otherwise shown as it was said.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from dashboard.i18n import _, translate
from dashboard.safe import md, md_value, plain, plain_value
from services.gateway.errors import GatewayError
from services.gateway.sentences import staff_sentence
from services.permissions import PermissionDenied
from services.sentence import Sentence, sentence_of

log = logging.getLogger(__name__)


def _say(said: str | Sentence, fill: Callable[[object], str], escape: Callable[[object], str]) -> str:
    return translate(said, fill) if isinstance(said, Sentence) else escape(_(said))


def _explain(exc: BaseException, fill: Callable[[object], str], escape: Callable[[object], str]) -> str:
    if isinstance(exc, PermissionDenied):
        return _("{reason} Ask an admin if you need this.").format(reason=_say(sentence_of(exc), fill, escape))
    if isinstance(exc, GatewayError):
        return _say(staff_sentence(exc), fill, escape)
    if isinstance(exc, ValueError):
        return _say(sentence_of(exc), fill, escape)
    return _("Something went wrong; the details were logged for the team.")


def said_md(said: str | Sentence | None) -> str:
    """A sentence a service returned (an outcome, a stored error) as Markdown in the person's language: a ``say``
    sentence translated with its values escaped and isolated, any other text looked up and escaped."""
    return _say(said, md_value, md) if said else ""


def said_plain(said: str | Sentence | None) -> str:
    """:func:`said_md` for plain-text places (``st.text``, option labels)."""
    return _say(said, plain_value, plain) if said else ""


def explain(exc: BaseException) -> str:
    """One sentence for a person, in their language: what failed and what to do (plain text, not Markdown)."""
    return _explain(exc, plain_value, str)


def explain_md(exc: BaseException) -> str:
    """:func:`explain` as Markdown: the data in it escaped and bidi-isolated."""
    return _explain(exc, md_value, md)


def show_error(exc: BaseException) -> None:
    """Render ``exc`` as one clear sentence; unexpected errors are logged with their stack trace."""
    known = isinstance(exc, (ValueError, PermissionDenied)) or type(exc).__module__.startswith("services.")
    if not known:
        log.exception("unexpected error on a page", exc_info=exc)
    else:
        log.info("refused: %s", exc)
    st.error(explain_md(exc))  # messages carry input, gateway text and ids: data escaped, never markup
