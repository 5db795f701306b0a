"""Data is never markup: the one place that turns untrusted text into something safe to show.

Everything a customer, a staff member, the gateway or the URL wrote is *data*. Streamlit renders most strings
as GitHub-flavoured Markdown with extras: ``st.markdown``/``caption``/``write``, alerts, toasts, titles and
headers, dialog titles, expander and tab labels, metric labels, values and deltas, tooltips (``help=``), button
labels, radio / pills / segmented-control options, status and progress labels, and every ``st.table`` cell
(checked in Chromium on 1.67: links, images that the browser fetches, bold, colour directives, LaTeX, emoji
shortcodes, Material icons and auto-linked URLs / e-mails / ``www.`` all come alive). Selectbox and multiselect
options, ``st.text``, ``st.code``, ``st.json`` and ``st.dataframe`` cells are plain text.

The rule, enforced by ``tests/unit/test_markup_safety.py``:

- markdown contexts get ``md(value)``;
- ``st.table`` gets ``md_cells(rows)`` (its cells are Markdown);
- plain-text contexts (dataframe cells, selectbox options, ``st.text``) get ``plain(value)`` / ``cells(rows)``;
- ``cells`` / ``md_cells`` also say a service's ``Sentence`` in the reader's language and show amounts, counts
  and dates in the reader's digits (``formatting.localise``); ids, phones and URLs keep Western digits;
- plotly labels and any HTML we write get ``html_text(value)``;
- ``unsafe_allow_html`` / ``st.html`` never carry data.

Bidi controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069) are **stripped** from displayed data, not shown:
a value is shown on its own (a cell, a phrase between fixed words), so a control has no legitimate work to do
there, and an override would otherwise reorder the text around it (``\u202eevil`` shows as ``live``). Stripping
rather than showing a marker keeps Arabic names that carry a stray RLM/LRM readable. Stored data is untouched.

Our own isolates are a separate step: in right-to-left pages ``md_iso`` / ``plain_iso`` wrap a value (an id, a
phone, an amount, a URL, a name) in FSI … PDI (U+2068 … U+2069) *after* it was escaped and stripped, so data can
neither bring its own controls nor close our isolate early; ``+965 9939 0361`` stays in one piece inside Arabic.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any, overload

import pandas as pd

from dashboard import i18n
from dashboard.formatting import localise
from services.sentence import Sentence

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = str.maketrans("", "", BIDI_CONTROLS)
_WJ = "\u2060"  # WORD JOINER: invisible, breaks the patterns the Markdown plugins look for in text
# CommonMark lets a backslash escape any ASCII punctuation; escaping all of it is simplest and complete.
_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
_WWW = re.compile(r"(?i)(www)(\\\.)")
# after escaping: a colon that opens ``:smile:`` / ``:material/x:`` or a ``scheme://``; an @ before a domain
_COLON = re.compile(r"(\\:)(?=[\w+\\/-]+\\:|\\/)")
_AT = re.compile(r"(\\@)(?=[\w-]+\\\.)")
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def plain(value: object) -> str:
    """``value`` as text for a plain-text widget: ``None`` → ``""``, bidi controls stripped."""
    return "" if value is None else str(value).translate(_BIDI)


def md(value: object) -> str:
    """``value`` as literal text inside Markdown: no link, image, formatting, directive, LaTeX, emoji or icon.

    Backslash escapes stop the syntax (``[`` ``!`` ``*`` ``<`` ``$`` ``:`` …). Auto-linking, emoji shortcodes
    and ``:material/…:`` icons are found in the *parsed* text, where escapes are already gone, so an invisible
    word joiner (U+2060) breaks them: after a colon that opens ``:name:`` or ``scheme:/``, after an ``@`` before
    a domain, inside ``www.``. Line breaks become spaces (no new block from data).
    """
    text = _LINE_BREAKS.sub(" ", plain(value))
    text = _PUNCT.sub(r"\\\1", text)
    text = _AT.sub(r"\1" + _WJ, _COLON.sub(r"\1" + _WJ, text))
    return _WWW.sub(r"\1" + _WJ + r"\2", text)


FSI, PDI = "\u2068", "\u2069"


def isolate(safe_text: str) -> str:
    """Wrap text that is *already* safe (``md``/``plain`` output, our own formatting) in a bidi isolate when the
    page is right to left; left-to-right pages are unchanged. Never give it raw data: use ``md_iso``."""
    return f"{FSI}{safe_text}{PDI}" if i18n.is_rtl() else safe_text


def md_iso(value: object) -> str:
    """``md(value)``, bidi-isolated in right-to-left pages (an id, phone, amount or name inside a sentence)."""
    return isolate(md(value))


def plain_iso(value: object) -> str:
    """``plain(value)``, bidi-isolated in right-to-left pages."""
    return isolate(plain(value))


def html_text(value: object) -> str:
    """``value`` for HTML and for plotly labels (plotly renders ``<a>``, ``<b>``, ``<br>``… in text)."""
    return html.escape(plain(value), quote=True)


def filename(stem: object, suffix: str = "") -> str:
    """A download file name from data: only ``A-Z a-z 0-9 . _ -`` survive, never empty."""
    cleaned = _FILE_UNSAFE.sub("-", plain(stem)).strip(".-") or "download"
    return cleaned[:120] + suffix


def plain_value(value: object) -> str:
    """A value inside a plain-text sentence: in the reader's locale when the dashboard formats it (an amount, a
    count, a date), then ``plain_iso``."""
    return plain_iso(localise(value))


def md_value(value: object) -> str:
    """A value inside a Markdown sentence: in the reader's locale when the dashboard formats it, then ``md_iso``."""
    return md_iso(localise(value))


def _cell(value: Any) -> Any:
    """One ``st.dataframe`` cell: a service's sentence translated, amounts / counts / dates in the reader's locale
    and digits (``formatting.localise``); ids and other text stay as they are, bidi controls stripped."""
    if isinstance(value, Sentence):
        return i18n.translate(value, plain_value)
    value = localise(value)
    return plain(value) if isinstance(value, str) else value


def _md_cell(value: Any) -> Any:
    if isinstance(value, Sentence):
        return i18n.translate(value, md_value)
    value = localise(value)
    return md(value) if isinstance(value, str) else value


def md_cells(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``st.table``, whose cells (and headers) are Markdown: every text goes through ``md``."""
    return [{md(k): _md_cell(v) for k, v in row.items()} for row in rows]


@overload
def cells(rows: pd.DataFrame) -> pd.DataFrame: ...
@overload
def cells(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]: ...
def cells(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame | list[dict[str, Any]]:
    """Table rows for ``st.dataframe`` with every text cell passed through ``plain`` (see :func:`_cell`).

    Give rows (or an ``object`` DataFrame): pandas 3 turns a column of ``Amount`` strings into its string dtype,
    which forgets the amount, so such a cell keeps Western digits; ``formatting.money`` / ``amount`` are safe."""
    if isinstance(rows, pd.DataFrame):
        return rows.map(_cell)
    return [{plain(k): _cell(v) for k, v in row.items()} for row in rows]
