"""Checks of constructor arguments the layers share: each raises an error that names the
layer, the argument and the value received."""

from __future__ import annotations

import numpy as np


def check_bool(owner: str, name: str, value) -> bool:
    """`value` as a bool, or a TypeError when it is not True or False (a string such as
    "no" is truthy and would silently mean True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def check_int_axis(owner: str, name: str, value) -> int:
    """`value` as an int axis, or a TypeError when it is not an integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: `{name}` must be an integer. Received: {name}={value!r}")
    return int(value)
