"""The staff member's language: gettext catalogs (Babel), bound per session, never shared between sessions.

Streamlit serves many sessions from one process, each script run on its own thread. The language lives in a
``ContextVar`` set at the top of every run (``dashboard.lang.apply``); callbacks run before the script on a fresh
thread, so when the variable is unset a *resolver* answers instead — ``dashboard.lang`` registers one that reads
the session's own ``st.session_state``. This module itself imports no Streamlit (formatting uses it).

Catalogs: ``locales/<lang>/LC_MESSAGES/messages.po`` is the source; the build (``scripts/test``,
``scripts/demo``, ``python -m dashboard.i18n``) compiles it to ``messages.mo``, which git ignores. A missing or
stale ``.mo`` is compiled in memory from the ``.po`` (and logged), so a checkout still speaks Arabic.

Services never import this: they mark sentences with ``services.sentence.N_`` / ``say`` and stay English;
:func:`translate` says them in the staff member's language where they are shown.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.sentence import N_, Sentence

__all__ = ["N_", "_", "compile_catalogs", "current", "digits", "is_rtl", "ngettext", "translate", "use"]

log = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = ("en", "ar")
RTL = frozenset({"ar"})
DEFAULT = "en"

_LANG: ContextVar[str | None] = ContextVar("souq_lang", default=None)
_DIGITS: ContextVar[str | None] = ContextVar("souq_digits", default=None)
# Answers (language, digits) when the ContextVar is unset (a Streamlit callback); set by dashboard.lang.
_resolver: Callable[[], tuple[str, str] | None] | None = None


def set_resolver(resolver: Callable[[], tuple[str, str] | None]) -> None:
    """Where a run without its ContextVar set finds its session's language (a function, not a value)."""
    global _resolver
    _resolver = resolver


def _resolved() -> tuple[str, str]:
    lang, digit_set = _LANG.get(), _DIGITS.get()
    if lang is not None:
        return lang, digit_set or "latn"
    found = _resolver() if _resolver is not None else None
    return found or (DEFAULT, "latn")


def current() -> str:
    """``"en"`` or ``"ar"`` for the person this code is running for."""
    return _resolved()[0]


def digits() -> str:
    """``"latn"`` (0123) or ``"arab"`` (٠١٢٣); Arabic-Indic digits only ever in Arabic."""
    lang, digit_set = _resolved()
    return digit_set if lang == "ar" else "latn"


def is_rtl() -> bool:
    return current() in RTL


def activate(lang: str, digit_set: str = "latn") -> None:
    """Bind this run (thread/context) to ``lang``; unknown values fall back to English / Western digits."""
    _LANG.set(lang if lang in LANGUAGES else DEFAULT)
    _DIGITS.set(digit_set if digit_set in ("latn", "arab") else "latn")


@contextmanager
def use(lang: str, digit_set: str = "latn") -> Iterator[None]:
    """Speak ``lang`` inside the block (tests, exports in a chosen language), then restore."""
    tokens = (_LANG.set(lang), _DIGITS.set(digit_set))
    try:
        yield
    finally:
        _LANG.reset(tokens[0])
        _DIGITS.reset(tokens[1])


def _paths(lang: str) -> tuple[Path, Path]:
    folder = LOCALES / lang / "LC_MESSAGES"
    return folder / "messages.po", folder / "messages.mo"


def compile_catalogs() -> list[Path]:
    """Compile every ``.po`` to its ``.mo`` (the build step); returns the files written."""
    written = []
    for po_path in sorted(LOCALES.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as f:
            catalog = read_po(f)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog for ``lang`` (English is the source language: no catalog)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return gettext.NullTranslations()
    po_path, mo_path = _paths(lang)
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as f:
            return gettext.GNUTranslations(f)
    log.warning("%s is missing or older than its .po; compiling it in memory (run the build)", mo_path)
    with po_path.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _(message: str) -> str:
    """``message`` in the current person's language (English when the catalog has no translation)."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted sentence for ``n`` (Arabic has six plural forms; the catalog knows them)."""
    return translations(current()).ngettext(singular, plural, n)


def translate(message: str | Sentence, fill: Callable[[object], str] = str) -> str:
    """A service's sentence in the current language; ``fill`` renders each value (``safe.md_iso`` on a page).

    A plain ``str`` is looked up as it is (a fixed ``N_`` sentence) and otherwise shown unchanged. A value that
    is itself a sentence (a phrase such as "the refund") is translated in its turn and not filled.
    """
    if not isinstance(message, Sentence):
        return _(message)
    template = _(message.template)
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            value = message.params.get(field, "")
            parts.append(translate(value, fill) if isinstance(value, Sentence) else fill(value))
    return "".join(parts)


if __name__ == "__main__":  # python -m dashboard.i18n: the build step
    logging.basicConfig(level=logging.INFO)
    for path in compile_catalogs():
        log.info("compiled %s", path)
