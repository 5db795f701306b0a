"""The customers search box, read once: a phone number in any format, an e-mail address, or name words.

``+965 5000 1234``, ``0096550001234``, ``5000-1234`` and ``٥٠٠٠١٢٣٤`` name the same customer; four or more digits
that are not a whole number are the start of a local number (``5000`` → every key from ``+9655000``). An ``@``
makes it an e-mail (whole address, lower case). Text without digits or ``@`` is name words (:mod:`.names`).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from services.customer_keys import EMAIL_PREFIX
from services.money import ASCII_DIGITS
from services.phones import InvalidPhone, normalize_phone
from services.sentence import say

from .names import MAX_WORDS, words

MAX_QUERY = 200


class SearchTextError(ValueError):
    """Search text that cannot be read (not text, or too long)."""


@dataclass(frozen=True)
class CustomerQuery:
    """What the search box asks for; empty when nothing can be searched."""

    phone_key: str | None = None  # a whole number, as a customer key (E.164)
    phone_prefix: str | None = None  # "+965…" start of a key, from 4+ digits
    email_key: str | None = None  # "email:" + lower-case address
    name_words: tuple[str, ...] = ()  # folded words, each the start of a name word

    @property
    def empty(self) -> bool:
        return not (self.phone_key or self.phone_prefix or self.email_key or self.name_words)


def parse_query(query: object) -> CustomerQuery:
    """Read the search box (never raises for text up to :data:`MAX_QUERY` characters)."""
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise SearchTextError(say("Search for a phone number, a name or an e-mail (up to 200 characters)."))
    text = query.strip()
    if not text:
        return CustomerQuery()
    email = EMAIL_PREFIX + text.lower() if "@" in text else None
    digits = re.sub(r"[^0-9]", "", text.translate(ASCII_DIGITS))
    phone_key = prefix = None
    if len(digits) >= 4:
        with contextlib.suppress(InvalidPhone):
            phone_key = normalize_phone(text)
        international = digits[2:] if digits.startswith("00965") else digits  # 00965… is +965…
        start = international if international.startswith("965") and len(international) > 8 else "965" + digits
        prefix = f"+{start}"
    names: tuple[str, ...] = ()
    if not digits and email is None:
        names = tuple(dict.fromkeys(words(text)))[:MAX_WORDS]
    return CustomerQuery(phone_key=phone_key, phone_prefix=prefix, email_key=email, name_words=names)
