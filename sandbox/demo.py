"""Seed the sandbox database from the shared demo generator (placeholder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Sandbox


def seed_demo(sandbox: Sandbox) -> int:
    """Insert the demo history once; returns how many payments were added."""
    return 0
