"""Checks of the arguments optimizers take: each returns the value as a float (or None) or
raises a ValueError naming the optimizer, the argument and what was received."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_learning_rate(value, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{owner}: `learning_rate` must be a non-negative float, a schedule or a "
                f"callable. Received: learning_rate={value!r}"
            ) from None
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{owner}: `learning_rate` must be a non-negative finite float. "
            f"Received: learning_rate={value}"
        )
    return value


def check_positive(name: str, value, owner: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive float. Received: {name}={value!r}")
    return float(value)


def check_float(owner: str, name: str, value, low=None, high=None, high_open=False) -> float:
    """`value` as a float, or a ValueError naming the argument, if it is not a real number in
    `[low, high]` (`[low, high)` with `high_open`)."""
    bad = isinstance(value, bool) or not isinstance(value, (numbers.Real, np.generic))
    if not bad:
        value = float(value)
        bad = not math.isfinite(value)
        bad = bad or (low is not None and value < low)
        bad = bad or (high is not None and (value >= high if high_open else value > high))
    if bad:
        where = f" in [{low}, {high}{')' if high_open else ']'}" if high is not None else ""
        where = where or (f" >= {low}" if low is not None else "")
        raise ValueError(f"{owner}: `{name}` must be a float{where}. Received: {name}={value!r}")
    return value


def check_ema_and_accumulation(owner, use_ema, ema_momentum, overwrite, accumulation):
    def is_int(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if accumulation is not None and (not is_int(accumulation) or accumulation < 2):
        raise ValueError(
            f"{owner}: `gradient_accumulation_steps` must be an integer >= 2. "
            f"Received: gradient_accumulation_steps={accumulation!r}"
        )
    if not isinstance(use_ema, (bool, np.bool_)):
        raise ValueError(f"{owner}: `use_ema` must be a bool. Received: use_ema={use_ema!r}")
    if (
        isinstance(ema_momentum, bool)
        or not isinstance(ema_momentum, numbers.Real)
        or not 0 <= ema_momentum <= 1
    ):
        raise ValueError(
            f"{owner}: `ema_momentum` must be in the range [0, 1]. "
            f"Received: ema_momentum={ema_momentum!r}"
        )
    if overwrite is not None and (not is_int(overwrite) or overwrite < 1):
        raise ValueError(
            f"{owner}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
            f"Received: ema_overwrite_frequency={overwrite!r}"
        )
