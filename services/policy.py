"""Shop rules the services apply themselves, set once from the app's settings — never chosen by a page.

The app sets them when it reads its settings (:func:`configure`, from ``dashboard.runtime``); services read
:func:`current`. No service takes a rule as an argument, so no caller can loosen one (the four-eyes threshold).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from services.sentence import say


@dataclass(frozen=True)
class Policy:
    """The rules, with the same defaults as ``dashboard.settings.Settings``."""

    refund_approval_threshold_fils: int = 100_000
    """A refund above this many fils waits for a second finance or admin person's approval (100.000 KWD)."""

    def __post_init__(self) -> None:
        value = self.refund_approval_threshold_fils
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(say("The approval threshold is not set to an amount; an admin must fix the settings."))


DEFAULT = Policy()
_lock = threading.Lock()
_current = DEFAULT


def configure(policy: Policy) -> Policy:
    """Make ``policy`` the process's rules (at start-up, from settings); returns the rules it replaced."""
    global _current
    with _lock:
        previous, _current = _current, policy
    return previous


def current() -> Policy:
    """The rules in force for this process."""
    return _current
