"""Demo data: the deterministic payments both the sandbox and the dashboard's cache generate, and the seeding.

:mod:`.data` generates the shared demo payments and ids (pure, no database); :mod:`.seed` writes them, with the
demo staff, into the cache so a fresh demo has history to search and chart.
"""

from __future__ import annotations

from services.demo.data import DemoPayment, DemoRefund, generate
from services.demo.seed import DEMO_USERS, DemoUser, seed_payments, seed_staff

__all__ = ["DEMO_USERS", "DemoPayment", "DemoRefund", "DemoUser", "generate", "seed_payments", "seed_staff"]
