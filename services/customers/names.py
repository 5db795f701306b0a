"""Customer names folded for matching: the search box's name words and the ``customer_name`` index agree.

Folding keeps a name's letters and digits and makes spelling variants one: lower case, the Arabic alef forms
(أ إ آ ٱ → ا), alef maqsura ى → ي, ta marbuta ة → ه, hamza seats ؤ → و and ئ → ي, and no harakat (ً ٌ ٍ َ ُ ِ ّ ْ),
superscript alef or tatweel. A query word matches a name when it is the start of one of the name's words
(``nou`` finds "Noura Al-Sabah", ``سار`` finds "سارة"), every query word must match, and results are exact: the
database index only proposes candidates, and :func:`matches` decides.

:data:`ARABIC_FOLD` is also written into migration 0010's triggers (as SQL ``replace`` calls, without the lower
case, which the text indexes apply themselves); ``tests/unit/test_customer_search.py`` keeps the two equal.
"""

from __future__ import annotations

import re

#: Arabic letters folded to one spelling, and marks removed ("" values).
ARABIC_FOLD: dict[str, str] = {
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # أ إ آ ٱ → ا
    "\u0649": "\u064a",  # ى → ي
    "\u0629": "\u0647",  # ة → ه
    "\u0624": "\u0648",  # ؤ → و
    "\u0626": "\u064a",  # ئ → ي
    **{chr(c): "" for c in range(0x064B, 0x0653)},  # fathatan … sukun
    "\u0670": "",  # superscript alef
    "\u0640": "",  # tatweel
}
_TABLE = str.maketrans(ARABIC_FOLD)
#: A word: letters and digits of any script (not "_", which the text indexes split on).
_WORD = re.compile(r"[^\W_]+")
#: The search box looks at this many name words at most.
MAX_WORDS = 6


def fold_arabic(text: str) -> str:
    """Only the Arabic folding (what migration 0010's triggers store in ``customer_name.words``)."""
    return text.translate(_TABLE)


def fold(text: str) -> str:
    """``text`` folded for matching: lower case and the Arabic folding."""
    return fold_arabic(text).lower()


def words(text: str | None) -> list[str]:
    """The folded words of a name (or of a query)."""
    return _WORD.findall(fold(text or ""))


def matches(name: str | None, query_words: tuple[str, ...]) -> bool:
    """Whether every query word starts one of the name's words (the exact rule the index is checked against)."""
    folded = fold(name or "")
    if not query_words or not all(q in folded for q in query_words):  # the quick "no" most names get
        return False
    have = _WORD.findall(folded)
    return all(any(w.startswith(q) for w in have) for q in query_words)
