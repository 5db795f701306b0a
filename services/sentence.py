"""Sentences services say to staff, kept translatable without services knowing any language.

A service raises or returns English (logs, the audit trail and tests read it), but builds the sentence with
``say(template, **params)``: the result *is* that English string, and also carries the template and the values.
The dashboard looks the template up in its catalog (``dashboard.i18n.translate``) and fills in the values,
bidi-isolated, in the staff member's language. ``say`` and ``N_`` are extraction keywords in ``babel.cfg``, so
every template lands in ``locales/messages.pot``; a sentence built any other way simply stays English.

A value may itself be a sentence (``say("{what} must be text.", what=phrase(N_("note")))``): it is translated
in its turn, not isolated. Amounts (``services.money.Amount``), dates and :class:`Count` are shown in the reader's
locale and digits; ids, order ids, phones and URLs are plain text and keep their Western digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown, not here."""
    return message


class Sentence(str):
    """An English sentence that remembers its template and values, so it can be said in another language."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: dict[str, Any]) -> Sentence:
        obj = super().__new__(cls, template.format(**params))
        obj.template = template
        obj.params = dict(params)
        return obj

    def __getnewargs__(self) -> tuple[str, dict[str, Any]]:  # type: ignore[override]  # copy, deepcopy, pickle
        return self.template, self.params


class Count(int):
    """A number of things (rows, days, payments) inside a sentence: shown in the reader's digits, unlike an id."""


def say(template: str, **params: Any) -> Sentence:
    """``say("{email} is not on the staff list.", email=e)``: English now, translatable where it is shown."""
    return Sentence(template, params)


def phrase(word: str) -> Sentence:
    """A fixed word or phrase marked elsewhere with ``N_`` (``"note"``), carried as a sentence so that it is
    translated where it is shown; a sentence is returned as it is."""
    return word if isinstance(word, Sentence) else Sentence(word, {})


def listing(words: Iterable[str]) -> Sentence:
    """``"a, b, c"`` whose words (marked with ``N_`` where they are defined) are each translated where shown."""
    words = list(words)
    template = ", ".join(f"{{w{i}}}" for i in range(len(words)))
    return Sentence(template, {f"w{i}": phrase(word) for i, word in enumerate(words)})


def sentence_of(exc: BaseException) -> str | Sentence:
    """The sentence an exception carries (its first argument when it was built with ``say``)."""
    if exc.args and isinstance(exc.args[0], Sentence):
        return exc.args[0]
    return str(exc)
