"""Checks of user-typed values shared by the service entry points; each raises the caller's own domain error.

Why here and not in each service: absurd input (a 31-digit amount, ``True`` as an id, a NUL byte, a bidi
override, a list where text belongs) used to leak out as ``InvalidOperation``, ``OverflowError``, ``TypeError``
or a database ``DataError`` (PostgreSQL refuses NUL in text and integers above 2**63). Every entry point runs
its values through these before it opens a transaction, so bad input writes nothing and reads as one sentence.
"""

from __future__ import annotations

import re

from services.sentence import Count, Sentence, phrase, say

#: Largest row id either database can hold (BIGINT / SQLite INTEGER).
MAX_ROW_ID = 2**63 - 1
#: C0 controls (newline and tab allowed only where ``multiline``), DEL, and the bidi embeddings, overrides and
#: isolates that make text read differently from what it stores (RLM/LRM marks are fine).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def shown(value: object, limit: int = 40) -> str:
    """A short printable picture of a bad value for an error sentence."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def row_id(value: object, error: type[ValueError], what: str) -> int:
    """``value`` as a database id (a positive int in range), else ``error("<what> #… was not found.")``.

    ``what`` is a word marked with ``N_`` at the call site (``N_("Payment")``): it is translated where shown."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ROW_ID:
        raise error(say("{what} {value} was not found.", what=phrase(what), value=shown(value)))
    return value


def bad_text(value: object, what: str, *, max_len: int, multiline: bool = False) -> Sentence | None:
    """The sentence saying why ``value`` is not acceptable text for ``what`` (None when it is, or is empty).

    ``what`` is a word marked with ``N_`` at the call site, or a ``say`` phrase: it is translated where shown."""
    if value is None:
        return None
    if not isinstance(value, str):
        return say("The {what} must be text.", what=phrase(what))
    pattern = _CONTROLS if multiline else _CONTROLS_ONE_LINE
    if pattern.search(value):
        return say("The {what} contains control or text-direction characters; type it again without them.",
                   what=phrase(what))
    if len(value.strip()) > max_len:
        return say("The {what} is too long ({length} characters; at most {limit}).", what=phrase(what),
                   length=Count(len(value.strip())), limit=Count(max_len))
    return None


def text(value: object, error: type[ValueError], what: str, *, max_len: int, multiline: bool = False) -> str:
    """``value`` stripped (``""`` for None), or ``error`` with :func:`bad_text`'s sentence."""
    problem = bad_text(value, what, max_len=max_len, multiline=multiline)
    if problem:
        raise error(problem)
    return value.strip() if isinstance(value, str) else ""
