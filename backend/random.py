"""Random ops and seeding (filled in by the random-ops work)."""

from __future__ import annotations

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seeds the global random generator (placeholder until random ops land)."""
