"""The transaction search filter, its date presets, and its round trip to URL query parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta

from services.models import FAMILIES, METHOD_FAMILY, PaymentStatus
from services.money import InvalidAmount, format_amount, parse_amount
from services.phones import InvalidPhone, normalize_phone
from services.refund_state import STATES as REFUND_STATES
from services.sentence import N_, Count, phrase, say, sentence_of
from services.timeutil import kuwait_today

STATUSES: tuple[str, ...] = tuple(s.value for s in PaymentStatus)
METHODS: tuple[str, ...] = tuple(METHOD_FAMILY)
PRESETS: dict[str, str] = {"today": "Today", "last_7_days": "Last 7 days", "this_month": "This month"}
SORTS: tuple[str, ...] = ("created_at", "amount", "status")
__all__ = ["FAMILIES", "METHODS", "PRESETS", "REFUND_STATES", "SORTS", "STATUSES", "SearchFilter", "filter_from_query",
           "filter_to_query", "kuwait_today", "preset_range"]
MAX_TEXT = 100

_ID_FIELDS = ("order_id", "track_id", "payment_id", "reference")
#: SearchFilter field → URL parameter name (short, stable: bookmarked links depend on them).
_PARAMS: dict[str, str] = {
    "day_from": "from", "day_to": "to", "statuses": "status", "families": "family", "methods": "method",
    "amount_min": "min", "amount_max": "max", "phone": "phone", "email": "email", "order_id": "order",
    "track_id": "track", "payment_id": "payment", "reference": "ref", "text": "q", "created_by": "by",
    "not_deposited": "undeposited", "refunds": "refund",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def preset_range(name: str, today: date | None = None) -> tuple[date, date]:
    """Inclusive Kuwait-day range of a preset: ``today``, ``last_7_days`` (today and the 6 before), ``this_month``."""
    day = today or kuwait_today()
    if name == "today":
        return day, day
    if name == "last_7_days":
        return day - timedelta(days=6), day
    if name == "this_month":
        return day.replace(day=1), day
    raise ValueError(say("Unknown date preset {value}; choose one of: {choices}.", value=repr(name),
                         choices=", ".join(PRESETS)))


_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

def _clean(value: object) -> str | None:
    """A URL value as text: anything but text is dropped, control and bidi-override characters removed."""
    if not isinstance(value, str):
        return None
    value = _CONTROLS.sub("", value).strip()
    return value or None


@dataclass(frozen=True)
class SearchFilter:
    """What to look for; every part optional, all given parts must match (AND). Amounts in minor units (fils)."""

    day_from: date | None = None  # Kuwait calendar day, inclusive
    day_to: date | None = None  # Kuwait calendar day, inclusive
    statuses: Set[str] = field(default_factory=frozenset)  # any set given is stored as a frozenset
    families: Set[str] = field(default_factory=frozenset)
    methods: Set[str] = field(default_factory=frozenset)
    amount_min: int | None = None
    amount_max: int | None = None
    phone: str | None = None  # E.164; use normalize_phone on what a person typed
    email: str | None = None  # exact, case-insensitive
    order_id: str | None = None
    track_id: str | None = None
    payment_id: str | None = None
    reference: str | None = None
    text: str | None = None  # free text over name, e-mail, description and ids (word prefixes)
    created_by: str | None = None  # staff e-mail
    not_deposited: bool = False  # paid, and get-deposit-status has not said "Yes" (services.settlements)
    refunds: Set[str] = field(default_factory=frozenset)  # services.refund_state states (paid payments only)

    def __post_init__(self) -> None:
        for name, label, allowed in (("statuses", N_("status"), STATUSES),
                                     ("families", N_("payment family"), FAMILIES),
                                     ("methods", N_("payment method"), METHODS),
                                     ("refunds", N_("refund state"), REFUND_STATES)):
            values = frozenset(getattr(self, name))
            unknown = sorted(values - set(allowed))
            if unknown:
                raise ValueError(say("Unknown {what} {value}; choose from: {choices}.", what=phrase(label),
                                     value=repr(unknown[0]), choices=", ".join(allowed)))
            object.__setattr__(self, name, values)
        for name in (*_ID_FIELDS, "phone", "text"):
            object.__setattr__(self, name, _clean(getattr(self, name)))
        for name in ("email", "created_by"):
            value = _clean(getattr(self, name))
            object.__setattr__(self, name, value.lower() if value else None)
        for name in ("amount_min", "amount_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(say("{name} must be a whole number of fils, zero or more.", name=name))
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValueError(say("The minimum amount is larger than the maximum amount."))
        if self.day_from and self.day_to and self.day_from > self.day_to:
            raise ValueError(say("The start date is after the end date."))
        if not isinstance(self.not_deposited, bool):
            raise ValueError("not_deposited must be true or false.")
        if self.text and len(self.text) > MAX_TEXT:
            raise ValueError(say("Search text is limited to {limit} characters.", limit=Count(MAX_TEXT)))

    @classmethod
    def for_preset(cls, name: str, today: date | None = None, **other: object) -> SearchFilter:
        """A filter for a date preset (plus any other fields)."""
        day_from, day_to = preset_range(name, today)
        return cls(day_from=day_from, day_to=day_to, **other)  # type: ignore[arg-type]

    def is_empty(self) -> bool:
        """Whether nothing narrows the search."""
        return self == SearchFilter()

    def with_changes(self, **changes: object) -> SearchFilter:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def _narrowing(self) -> set[str]:
        return {f.name for f in fields(self)
                if getattr(self, f.name) is not None and getattr(self, f.name) != frozenset()
                and getattr(self, f.name) is not False}

    def dimension_only(self) -> bool:
        """Whether only days, statuses, families and methods narrow it (totals then come from the daily summary)."""
        return self._narrowing() <= {"day_from", "day_to", "statuses", "families", "methods"}

    def amount_dimension_only(self) -> bool:
        """Whether an amount range and at most statuses, families and methods narrow it (no days, ids or text)."""
        narrowing = self._narrowing()
        return bool(narrowing & {"amount_min", "amount_max"}) and narrowing <= {
            "amount_min", "amount_max", "statuses", "families", "methods"}


def filter_to_query(flt: SearchFilter) -> dict[str, str]:
    """URL query parameters for ``flt`` (only the parts that are set); amounts in KWD, e.g. ``min=12.500``."""
    out: dict[str, str] = {}
    for name, param in _PARAMS.items():
        value = getattr(flt, name)
        if value is None or value == frozenset() or value is False:
            continue
        if value is True:
            out[param] = "1"
        elif isinstance(value, frozenset):
            out[param] = ",".join(sorted(value))
        elif isinstance(value, date):
            out[param] = value.isoformat()
        elif name in ("amount_min", "amount_max"):
            out[param] = format_amount(value)
        else:
            out[param] = str(value)
    return out


def _first(params: Mapping[str, str | list[str]], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return _clean(value)


def _choices(raw: str | None, allowed: Iterable[str], label: str, warnings: list[str]) -> frozenset[str]:
    chosen: set[str] = set()
    allowed = tuple(allowed)
    for part in (raw or "").split(","):
        item = part.strip().lower()
        if not item:
            continue
        if item in allowed:
            chosen.add(item)
        else:
            warnings.append(say("Ignored unknown {what} {value}.", what=phrase(label), value=repr(part.strip())))
    return frozenset(chosen)


def _day(raw: str | None, label: str, warnings: list[str]) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        warnings.append(say("Ignored the {what} date {value}: use YYYY-MM-DD.", what=phrase(label), value=repr(raw)))
        return None


def _amount(raw: str | None, label: str, warnings: list[str]) -> int | None:
    if raw is None:
        return None
    try:
        return parse_amount(raw, allow_zero=True)
    except InvalidAmount as exc:
        warnings.append(say("Ignored the {what} amount: {problem}", what=phrase(label), problem=sentence_of(exc)))
        return None


def filter_from_query(params: Mapping[str, str | list[str]], warnings: list[str] | None = None) -> SearchFilter:
    """The filter a URL describes; invalid parts are dropped and explained in ``warnings`` (never raises)."""
    notes: list[str] = [] if warnings is None else warnings
    day_from = _day(_first(params, "from"), N_("start"), notes)
    day_to = _day(_first(params, "to"), N_("end"), notes)
    if day_from and day_to and day_from > day_to:
        notes.append(say("The start date was after the end date; swapped them."))
        day_from, day_to = day_to, day_from
    amount_min = _amount(_first(params, "min"), N_("minimum"), notes)
    amount_max = _amount(_first(params, "max"), N_("maximum"), notes)
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        notes.append(say("The minimum amount was larger than the maximum; swapped them."))
        amount_min, amount_max = amount_max, amount_min
    phone = _first(params, "phone")
    if phone is not None:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone as exc:
            notes.append(say("Ignored the phone: {problem}", problem=sentence_of(exc)))
            phone = None
    email = _first(params, "email")
    if email is not None and not _EMAIL.match(email):
        notes.append(say("Ignored the e-mail {value}: it is not an e-mail address.", value=repr(email)))
        email = None
    text = _first(params, "q")
    if text is not None and len(text) > MAX_TEXT:
        notes.append(say("Search text was cut to {limit} characters.", limit=Count(MAX_TEXT)))
        text = text[:MAX_TEXT].strip()
    ids = {name: (_first(params, _PARAMS[name]) or "")[:255] or None for name in _ID_FIELDS}
    return SearchFilter(
        day_from=day_from,
        day_to=day_to,
        statuses=_choices(_first(params, "status"), STATUSES, N_("status"), notes),
        families=_choices(_first(params, "family"), FAMILIES, N_("payment family"), notes),
        methods=_choices(_first(params, "method"), METHODS, N_("payment method"), notes),
        amount_min=amount_min,
        amount_max=amount_max,
        phone=phone,
        email=email,
        text=text,
        created_by=_first(params, "by"),
        not_deposited=(_first(params, "undeposited") or "").lower() in ("1", "true", "yes"),
        refunds=_choices(_first(params, "refund"), REFUND_STATES, N_("refund state"), notes),
        **ids,
    )
