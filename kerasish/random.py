"""`kerasish.random`: random ops seeded by an int, a `SeedGenerator`, or the global seed."""

from backend.random import *  # noqa: F403
from backend.random import __all__  # noqa: F401
