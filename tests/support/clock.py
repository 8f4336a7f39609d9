"""A settable clock for a Runtime, so time-based behaviour is testable."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """Starts at 2026-11-27 12:00 UTC; tests move it by assigning or adding to ``now``."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
