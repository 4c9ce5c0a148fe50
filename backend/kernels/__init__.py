"""Numba kernels by family: `gemm` (epilogues after BLAS), `reduce`, `nn`, `softmax`,
`layer_norm`, `optim`.

Importing this package imports Numba (the compiler does it lazily; `import backend` does not).
Every kernel is made by `kernel`, which takes all JIT flags from `backend.config.jit_options`
and records the dispatcher, so `compiled_signature_count()` can prove that nothing recompiles
for a new batch size.

Conventions (DESIGN.md, "Kernels"): a kernel is a pure function over C-contiguous arrays,
inputs first and outputs last, returning nothing; its public Python wrapper checks shapes,
dtypes and contiguity and is its only caller. Every kernel is serial. One that may run on
threads takes `start, stop` as its first two arguments and does that range of its independent
rows (or of a fixed number of chunks, whose partial results the wrapper merges in a fixed
order afterwards); `launch` runs it over the whole range, in one call or split across the
worker threads of `backend.workers` when the call's work is large enough to pay for them, so
a result is bit-identical from run to run and with any thread count. (Numba's `prange` is not
used: docs/internals/kernels.md says what it cost in compile time.)
"""

from __future__ import annotations

import logging

from .. import config as _config
from .. import workers as _workers
from . import background

_config.prepare_numba()  # Numba reads its cache dir when imported, so this comes first.

import numba  # noqa: E402
from numba.core import sigutils  # noqa: E402
from numba.core.compiler_lock import global_compiler_lock  # noqa: E402
from numba.core.registry import CPUDispatcher  # noqa: E402

_dispatchers: list = []
_dispatcher_ids: set = set()


class _Kernel(CPUDispatcher):
    """Numba's CPU dispatcher, whose compiles run LLVM's IR optimizations at
    `config.llvm_opt_level()` instead of Numba's process-wide level (`numba.config.OPT`,
    3 unless `NUMBA_OPT` says otherwise), which other Numba code in the process keeps."""

    def compile(self, sig):
        if background.helper_process() is not None:
            args, _ = sigutils.normalize_signature(sig)
            if tuple(args) not in self.overloads:
                background.wait_if_busy(self, args)  # then found in the cache
        level = _config.llvm_opt_level()
        if level is None:
            return super().compile(sig)
        with global_compiler_lock:  # no other thread compiles while OPT is changed
            before = numba.config.OPT
            numba.config.OPT = type(before)(level)
            try:
                return super().compile(sig)
            finally:
                numba.config.OPT = before


def _jit(func):
    options = dict(_config.jit_options())
    cache = options.pop("cache")
    dispatcher = _Kernel(py_func=func, locals={}, targetoptions=dict(options, nopython=True))
    if cache:
        dispatcher.enable_caching()
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
        dispatcher = event.data.get("dispatcher")
        if id(dispatcher) not in _dispatcher_ids:
            return
        args = event.data.get("args")
        if args is not None and background.helper_process() is None:
            background.start(dispatcher, args)
        if self.given:
            return
        self.given = True
        logging.getLogger("kerasish").warning(first_compile_notice())

    def on_end(self, event):
        pass


numba.core.event.register("numba:compile", _FirstCompileListener())


def kernel(func):
    """Compiles `func` lazily (per argument types) with the flags of `config.jit_options`:
    a kernel, or a helper that kernels in the same file call."""
    return _jit(func)


def dispatchers() -> tuple:
    """Every dispatcher made by `kernel`, in creation order."""
    return tuple(_dispatchers)


def compiled_signature_count() -> int:
    """How many specializations (compiled or loaded from the cache) all kernels hold."""
    return sum(len(d.signatures) for d in _dispatchers)


def launch(dispatcher, work: int, count: int, *args) -> None:
    """Runs `dispatcher(start, stop, *args)` over `range(count)`: in one call on this thread,
    or split into one share per worker thread (`backend.workers.split`) when `work` (elements
    times the kernel's relative cost) reaches `config.parallel_threshold()` and more than one
    thread is configured."""
    if count > 1 and work >= _config.parallel_threshold() and _config.get_num_threads() > 1:
        _workers.split(lambda _, start, stop: dispatcher(start, stop, *args), count)
    else:
        dispatcher(0, count, *args)


def launch_or_serial(threads: bool, dispatcher, work: int, count: int, *args) -> None:
    """`launch`, or one call on this thread whatever the size when `threads` is false (for a
    caller whose calls are too short to pay for waking the worker threads)."""
    if threads:
        launch(dispatcher, work, count, *args)
    else:
        dispatcher(0, count, *args)


from . import (  # noqa: E402
    compare,
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
    special,
    winograd,
    winograd_f4,
    winograd_grad,
    winograd_output,
    winograd_window,
)

__all__ = [
    "compare", "compiled_signature_count", "conv", "conv_direct", "conv_direct_grad",
    "conv_window", "depthwise", "dispatchers", "gather", "gemm", "kernel", "launch",
    "launch_or_serial", "layer_norm", "nn", "norm", "optim", "pool",
    "random", "reduce", "rnn", "rnn_loops", "softmax", "special", "winograd", "winograd_f4",
    "winograd_grad", "winograd_output", "winograd_window",
]  # fmt: skip
