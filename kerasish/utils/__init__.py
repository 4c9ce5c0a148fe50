"""`kerasish.utils`: helpers for users (seeding, and more to come)."""

from backend.random import set_random_seed  # noqa: F401
