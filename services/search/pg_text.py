"""PostgreSQL's free text: whether a capped text count walks the payments or asks the trigram index (issue 15).

A text total on PostgreSQL is capped: the first ``TEXT_TOTALS_CAP + 1`` matches are summed, more means "more than".
With a common token (a first name: 10 % of payments) the planner builds the trigram index's bitmap of every match
(100,000 at a million payments, 15–40 ms) and ANDs it with a day range's bitmap, where walking the range and
stopping at the 2,001st match reads about 20,000 payments. Its estimate of how many payments a token matches is
good (``pg_stats`` histogram of ``search_text``); what misleads it is the cost of that bitmap. So we decide: with
the same histogram (cached) we estimate the payments a walk reads before it has enough matches, and below
:data:`WALK_ROWS` the text is compared with ``strpos`` (no index can answer it: the planner walks the day range,
or the table) instead of ``LIKE`` (the trigram index). Both give the same rows: tokens hold letters and digits
only, so ``LIKE '%token%'`` is exactly "contains token". Rare tokens (no histogram hit) keep the index.
"""

from __future__ import annotations

import threading
import time
import weakref

from sqlalchemy import and_, false, func, literal, literal_column, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from services.search import support

#: A walk that reads at most this many payments (about 0.4 µs each) beats the trigram bitmap of a common token.
WALK_ROWS = 30_000
#: Trigrams asked of the index for a token too rare to show in the histogram (its rarest ones).
RARE_KEYS = 4
#: Seconds the histogram sample and table size are kept per engine (statistics change with ANALYZE).
SAMPLE_TTL_S = 300.0

_samples: weakref.WeakKeyDictionary[Engine, tuple[float, tuple[str, ...], int]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def tokens(value: str) -> list[str]:
    """The search's tokens (lower-case letters and digits), every one of which must occur."""
    return [t for word in support.words(value) for t in word]


def text_condition(value: str, *, indexed: bool = True, keys: list[str] | None = None) -> ColumnElement[bool]:
    """Every token occurs in :data:`support.PG_SEARCH_TEXT`: ``LIKE`` (the trigram index may answer) or, not
    ``indexed``, ``strpos`` (the same rows; only a walk of the payments answers it). With ``keys`` (see
    :func:`index_keys`): ``strpos`` for the tokens and ``LIKE`` for those substrings of them only, for the index."""
    found = tokens(value)
    if not found:
        return false()
    joined: ColumnElement[str] = literal_column(support.PG_SEARCH_TEXT)
    if indexed and not keys:
        return and_(*(joined.like(func.lower(literal(f"%{t}%"))) for t in found))
    likes = [joined.like(func.lower(literal(f"%{k}%"))) for k in keys or ()]
    return and_(*likes, *(func.strpos(joined, func.lower(literal(t))) > 0 for t in found))


def index_keys(conn: Connection, engine: Engine, value: str) -> list[str]:
    """Trigrams of the tokens worth asking the trigram index for; empty: ask it for the whole tokens.

    The index's cost is the posting lists it reads: one per trigram of each token (8 for "noura al-rashidi",
    each of 100,000+ payments), and a trigram in almost every payment ("000" of an order id "B1-000653160")
    costs the most and narrows nothing. Every match contains each trigram of its tokens, so any of them gives a
    superset that ``strpos`` then makes exact. From the histogram: a common token (seen in it) keeps its rarest
    trigram (together they still narrow to about the matches), none if that is in half the payments; a rare one
    its :data:`RARE_KEYS` rarest trigrams. Tokens under three characters have no trigram.
    """
    values = sample(conn, engine)
    if not values:
        return []
    keys: list[str] = []
    for token in dict.fromkeys(tokens(value)):
        grams = list(dict.fromkeys(token[i:i + 3] for i in range(len(token) - 2)))
        seen = {g: sum(1 for v in values if g in v) for g in grams}
        rarest = sorted(reversed(grams), key=seen.__getitem__)  # ties: the later trigram (ids vary at the end)
        if not rarest:
            continue
        if any(token in v for v in values):
            keys.extend(rarest[:1] if 2 * seen[rarest[0]] < len(values) else [])
        else:
            keys.extend(rarest[:RARE_KEYS])
    return keys


def sample(conn: Connection, engine: Engine) -> tuple[str, ...]:
    """The ``search_text`` values of the planner's histogram (about 100, an even spread); empty before ANALYZE."""
    return _statistics(conn, engine)[1]


def table_rows(conn: Connection, engine: Engine) -> int:
    """About how many payments there are (the planner's count, as of the last VACUUM or ANALYZE)."""
    return _statistics(conn, engine)[2]


def _statistics(conn: Connection, engine: Engine) -> tuple[float, tuple[str, ...], int]:
    now = time.monotonic()
    with _lock:
        cached = _samples.get(engine)
    if cached is not None and now - cached[0] < SAMPLE_TTL_S:
        return cached
    values = tuple(str(v) for v in conn.execute(text(
        "SELECT b FROM pg_stats, unnest(histogram_bounds::text::text[]) AS b "
        "WHERE schemaname = current_schema() AND tablename = 'payment' AND attname = 'search_text'")).scalars())
    rows = conn.execute(text("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'payment'::regclass"
                             )).scalar_one()
    fresh = (now, values, int(rows))
    with _lock:
        _samples[engine] = fresh
    return fresh


def density(conn: Connection, engine: Engine, value: str) -> float | None:
    """Share of payments whose text holds every token, from the histogram; ``None`` when unknown or too rare to
    show in it (then the index is the better path)."""
    values, found = sample(conn, engine), tokens(value)
    hits = sum(1 for v in values if all(t in v for t in found))
    return hits / len(values) if values and found and hits else None


def walk_reads(share: float | None, *, wanted: int, range_rows: int | None = None, scope_rows: int | None = None
               ) -> float | None:
    """Payments a walk reads before it has ``wanted`` matches: it reads the day range (``range_rows``; ``None``:
    the table, as big as it takes), of which ``scope_rows`` pass the other filters (``None``: all) and ``share``
    of those the text. ``None``: unknown (no share)."""
    if share is None or share <= 0 or scope_rows == 0:
        return None
    reads = wanted / share
    if scope_rows is not None and range_rows is not None:
        reads *= range_rows / scope_rows
    return reads if range_rows is None else min(float(range_rows), reads)
