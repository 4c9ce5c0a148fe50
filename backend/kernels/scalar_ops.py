"""Scalar helpers that the generated (fused) kernels call, one typed implementation per dtype.

`relu_value(x)` is `max(x, 0)` as numpy's maximum gives it: NaN stays NaN, and anything else
not above 0 (a negative number, -0.0, -inf) is +0. The zero is a constant of x's own type,
so a float32 relu stays float32. Written inline as `x if ... else 0`, Numba typed the
integer literal against a float32 as float64, and so did the arithmetic that followed the
relu in the same group: `relu(x) * w + b` computed in float64 and rounded once differed from
the eager float32 ops in the last bit for about 13% of the elements.
"""

from __future__ import annotations

from numba import types
from numba.extending import overload


def relu_value(x):
    """max(x, 0) for one number, NaN kept (the generated kernels compile the typed overload).

    Example:
        >>> relu_value(-2.5), relu_value(3.0)
        (0.0, 3.0)
    """
    return x if (x > 0 or x != x) else type(x)(0)


@overload(relu_value)
def _relu_value_typed(x):
    if not isinstance(x, (types.Float, types.Integer)):
        return None
    zero = x.cast_python_value(0)

    def impl(x):
        return x if (x > zero or x != x) else zero

    return impl
