"""The kerasish engine: tensors, primitive ops, autodiff, and the compiler to Plans.

This package never imports `kerasish`. It marks itself with `__kerasish_engine__` so the API
package can tell it apart from an unrelated module that happens to be called `backend`.
"""

__kerasish_engine__ = True

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

# OpenBLAS's worker threads spin for about 0.1 s after each GEMM (its default
# OPENBLAS_THREAD_TIMEOUT=28, 2**28 cycles), holding the cores that the Numba kernels after a
# GEMM need: with the spin, the MNIST convnet predicted 1.8x and an LSTM 1.6x slower. The
# engine's value, 18 (2**18 cycles, about 0.1 ms), keeps them awake between the GEMMs of one
# step and asleep before the kernels after them. Before numpy loads OpenBLAS the variable
# does it; after, OpenBLAS's threads are restarted with it (`blas.quiet_idle_spin`). A value
# of the user's own wins (docs/internals/kernels.md).
OPENBLAS_IDLE_SPIN = "18"
_numpy_first = "numpy" in _sys.modules
if not _numpy_first:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_IDLE_SPIN)

from . import blas, compiler, config, dtypes, graph, ops  # noqa: E402

if _numpy_first:
    blas.quiet_idle_spin()

from .autodiff import GradientTape, gradients  # noqa: E402
from .config import epsilon, floatx, image_data_format, set_epsilon, set_floatx  # noqa: E402
from .dtypes import result_type, standardize_dtype  # noqa: E402
from .tensor import Spec, SymbolicTensor, Tensor, symbolic_scope  # noqa: E402
from .variables import Variable  # noqa: E402

_clear_session_hooks: list = []


def register_clear_session_hook(hook) -> None:
    """Registers a function `clear_session()` calls (the API layer resets its names)."""
    _clear_session_hooks.append(hook)


def clear_session() -> None:
    """Resets global state as `keras.backend.clear_session()`: layer names start again
    (`dense`, `dense_1`, ...)."""
    for hook in _clear_session_hooks:
        hook()


def symbolic(shape, dtype=None, name=None) -> SymbolicTensor:
    """A placeholder: a symbolic tensor with no producer (dims may be None)."""
    return SymbolicTensor(shape, dtype, name=name)


def is_tensor(x) -> bool:
    return isinstance(x, (Tensor, SymbolicTensor, Variable))


__all__ = [
    "GradientTape", "Spec", "SymbolicTensor", "Tensor", "Variable", "clear_session", "compiler",
    "config", "dtypes",
    "epsilon", "floatx", "gradients", "graph", "image_data_format", "is_tensor", "ops",
    "result_type", "set_epsilon", "set_floatx", "standardize_dtype", "symbolic",
    "symbolic_scope",
]  # fmt: skip
