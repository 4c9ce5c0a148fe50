"""Numba kernels by family: `gemm` (epilogues after BLAS), `reduce`, `nn`, `softmax`,
`layer_norm`, `optim`.

Importing this package imports Numba (the compiler does it lazily; `import backend` does not).
Every kernel is made by `kernel` or `parallel_kernel`, which take all JIT flags from
`backend.config.jit_options` and record the dispatcher, so `compiled_signature_count()` can
prove that nothing recompiles for a new batch size.

Conventions (DESIGN.md, "Kernels"): a kernel is a pure function over C-contiguous arrays,
inputs first and outputs last, returning nothing; its public Python wrapper checks shapes,
dtypes and contiguity and is its only caller. A parallel kernel's first argument is the flag
`parallel`: it runs a `prange` loop when true and the same body serially when false, and
`launch` picks the flag from the call's size, so a small call never pays for waking threads.
The threaded branch only splits independent rows or a fixed number of chunks merged in a fixed
order, so a result is bit-identical from run to run and with any thread count.
"""

from __future__ import annotations

import logging
import threading

from .. import config as _config

_config.prepare_numba()  # Numba reads its cache dir when imported, so this comes first.

import numba  # noqa: E402

_config.configure_numba(numba)  # threading layer and thread count, before any parallel run

#: Held while a threaded kernel runs: the `workqueue` layer aborts the process if two Python
#: threads enter it at once. Re-entrant, so a Plan runner may hold it around a whole step.
PARALLEL_LOCK = threading.RLock()

_dispatchers: list = []
_dispatcher_ids: set = set()


def _jit(func, parallel: bool):
    dispatcher = numba.njit(**_config.jit_options(parallel=parallel))(func)
    _dispatchers.append(dispatcher)
    _dispatcher_ids.add(id(dispatcher))
    return dispatcher


def first_compile_notice() -> str:
    """The notice logged when this process first compiles one of the kernels."""
    cache = _config.jit_options()["cache"]
    where = numba.config.CACHE_DIR or _config.cache_dir()
    if cache and where:
        later = (
            f"This happens once per machine: the compiled kernels are saved in {where} "
            "and later runs load them in seconds."
        )
    else:
        later = (
            "Compiled kernels are not cached (no writable cache directory; set "
            "KERASISH_CACHE_DIR to one), so every new process compiles them again."
        )
    return (
        "kerasish is compiling its kernels for this machine's CPU (Numba), so the first "
        f"training steps are slow: up to a few minutes for a new kind of model. {later} "
        "(Hide this notice: logging.getLogger('kerasish').setLevel(logging.ERROR).)"
    )


class _FirstCompileListener(numba.core.event.Listener):
    """Logs `first_compile_notice()` when a kernel is first compiled (not loaded from the
    cache): numba reports a compile only after its cache had nothing for the signature."""

    given = False

    def on_start(self, event):
        if self.given or id(event.data.get("dispatcher")) not in _dispatcher_ids:
            return
        self.given = True
        logging.getLogger("kerasish").warning(first_compile_notice())

    def on_end(self, event):
        pass


numba.core.event.register("numba:compile", _FirstCompileListener())


def kernel(func=None, *, parallel: bool = False):
    """Compiles `func` lazily (per argument types) with the flags of `config.jit_options`.

    Use as `@kernel` (serial: a kernel or a helper that kernels call) or with `parallel`
    for a function whose `prange` loops should run on threads.
    """
    if func is None:
        return lambda f: _jit(f, bool(parallel))
    return _jit(func, bool(parallel))


def parallel_kernel(func):
    """`kernel` with `parallel` on, for the kernels here: their first argument is the flag
    `parallel` that `launch` sets, choosing the `prange` loop or the serial one."""
    return _jit(func, True)


def dispatchers() -> tuple:
    """Every dispatcher made by `kernel` / `parallel_kernel`, in creation order."""
    return tuple(_dispatchers)


def compiled_signature_count() -> int:
    """How many specializations (compiled or loaded from the cache) all kernels hold."""
    return sum(len(d.signatures) for d in _dispatchers)


def _apply_num_threads() -> None:
    # Numba's thread count is per Python thread, so ours is applied in whichever thread runs
    # a threaded kernel (the check costs about a microsecond; the threaded run, tens).
    n = _config.get_num_threads()
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def launch(dispatcher, work: int, *args) -> None:
    """Runs a parallel kernel: threaded when `work` reaches `config.parallel_threshold()`."""
    if work >= _config.parallel_threshold() and _config.get_num_threads() > 1:
        with PARALLEL_LOCK:
            _apply_num_threads()
            dispatcher(True, *args)
    else:
        dispatcher(False, *args)


def launch_or_serial(threads: bool, dispatcher, work: int, *args) -> None:
    """`launch`, or the serial branch whatever the size when `threads` is false (for a caller
    already on a worker thread, or whose calls are too short to pay for waking the pool)."""
    if threads:
        launch(dispatcher, work, *args)
    else:
        dispatcher(False, *args)


from . import (  # noqa: E402
    conv,
    conv_direct,
    conv_direct_grad,
    conv_window,
    depthwise,
    gather,
    gemm,
    layer_norm,
    nn,
    norm,
    optim,
    pool,
    random,
    reduce,
    rnn,
    rnn_loops,
    softmax,
    winograd,
    winograd_grad,
    winograd_output,
)

__all__ = [
    "PARALLEL_LOCK", "compiled_signature_count", "conv", "conv_direct", "conv_direct_grad",
    "conv_window", "depthwise", "dispatchers", "gather", "gemm", "kernel", "launch",
    "launch_or_serial", "layer_norm", "nn", "norm", "optim", "parallel_kernel", "pool",
    "random", "reduce", "rnn", "rnn_loops", "softmax", "winograd", "winograd_grad",
    "winograd_output",
]  # fmt: skip
