"""Engine settings: floatx, epsilon, threads, JIT flags and the kernel cache directory.

Everything that changes how the engine computes is read from here, never hard-coded at a
call site, so tests and users can change it in one place.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"

_ALLOWED_FLOATX = ("float16", "float32", "float64")


def floatx() -> str:
    """The default float dtype, as a string (`"float32"` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float dtype: one of `"float16"`, `"float32"`, `"float64"`."""
    global _FLOATX
    if value not in _ALLOWED_FLOATX:
        raise ValueError(f"Unknown floatx: expected one of {_ALLOWED_FLOATX}. Received: {value!r}")
    _FLOATX = str(value)


def epsilon() -> float:
    """The fuzz factor used to keep logs and divisions finite (1e-7 unless changed)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"set_epsilon: `value` must be a float > 0. Received: value={value!r}")
    _EPSILON = float(value)


_NAN_CHECKS = False


def enable_nan_checks() -> None:
    """Checks every value a compiled step computes for NaN and Inf, and stops at the first,
    naming the op and the layer that produced it (a `FloatingPointError`; see docs/errors.md).
    Slower (a pass over each output): for debugging. Off by default, and then free."""
    global _NAN_CHECKS
    _NAN_CHECKS = True


def disable_nan_checks() -> None:
    """Turns the checks of `enable_nan_checks()` off again."""
    global _NAN_CHECKS
    _NAN_CHECKS = False


def nan_checks_enabled() -> bool:
    return _NAN_CHECKS


def image_data_format() -> str:
    """Always `"channels_last"`: the engine's layout is NHWC."""
    return _IMAGE_DATA_FORMAT


# --- threads, JIT flags, the kernel cache ---------------------------------------------------------
#
# Numba is imported by `backend.kernels` only, when the compiler first needs a kernel; nothing
# here imports it at module import time (`import kerasish` stays light). Functions that must
# talk to Numba import it inside, and only when it is already loaded or about to be.

_num_threads: int | None = None  # None: every CPU this process may use
_blas_limiter = None  # keeps threadpoolctl's limiter object alive
_parallel_threshold = 1 << 17
_jit_settings: dict = {"fastmath": False, "cache": None}  # cache None: on when a dir is usable
_numba_prepared = False


def _default_num_threads() -> int:
    """The CPUs this process may run on (`NUMBA_NUM_THREADS` when set, as before the engine
    had its own threads: scripts that set it keep their count)."""
    value = os.environ.get("NUMBA_NUM_THREADS", "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """The number of threads the engine's kernels run on (the caller's thread included).

    It is the value given to `set_num_threads`, else every CPU this process may run on
    (`NUMBA_NUM_THREADS` when that is set).
    """
    return _num_threads if _num_threads is not None else _default_num_threads()


def set_num_threads(n: int) -> None:
    """Sets the number of threads for every pool the engine computes on, so none competes
    with another for the cores.

    - The engine's kernels: a threaded kernel call runs on `n` threads (`backend.workers`,
      the caller's thread and `n - 1` worker threads).
    - BLAS (numpy's matmul, the GEMMs of dense and convolution layers): limited to `n`
      through `threadpoolctl` when it is installed (an optional dependency); else, on Linux,
      through OpenBLAS's own `openblas_set_num_threads` in the library numpy loaded. Without
      either, BLAS keeps the count it started with: set `OMP_NUM_THREADS` (or
      `OPENBLAS_NUM_THREADS`) before the process starts.
    - Numba's own thread pool: the engine never starts it (its kernels do not use `prange`);
      if a user's `prange` code has started it, it is limited to `n` too.

    `n` must be an int in `[1, get_num_threads()'s default]` (the CPUs this process may use).
    It applies to every thread at once, including threads started earlier.

    Example:
        >>> import kerasish as keras
        >>> before = keras.config.get_num_threads()
        >>> keras.config.set_num_threads(1)
        >>> keras.config.get_num_threads()
        1
        >>> keras.config.set_num_threads(before)
    """
    global _num_threads, _blas_limiter
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int. Received: n={n!r}")
    limit = _default_num_threads()
    if not 1 <= n <= limit:
        raise ValueError(
            f"set_num_threads: n must be in [1, {limit}] (the CPUs this process may use). "
            f"Received: n={n}"
        )
    _num_threads = int(n)
    _limit_numba_pool(_num_threads)
    _spin_settings_changed()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _set_openblas_threads(_num_threads)
        return
    _blas_limiter = threadpool_limits(limits=_num_threads, user_api="blas")


def _limit_numba_pool(n: int) -> None:
    """Limits Numba's thread pool when something has started it (never the engine)."""
    numba = sys.modules.get("numba")
    if numba is None:
        return
    from numba.np.ufunc import parallel as numba_parallel

    if numba_parallel._is_initialized:
        numba.set_num_threads(min(n, int(numba.config.NUMBA_NUM_THREADS)))


#: OpenBLAS's thread-count setters, by build: numpy's own wheels (scipy-openblas, 64-bit
#: integers), OpenBLAS's ILP64 suffix, a plain build.
OPENBLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads",
)


def openblas_libraries() -> list:
    """The OpenBLAS libraries loaded in this process (ctypes handles), found by their path in
    `/proc/self/maps`; empty where that file does not exist (not Linux)."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    libraries = []
    for path in sorted(paths):
        if not os.path.isfile(path):
            continue
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libraries


_openblas_controls: list = []  # [(get, set)] once looked up, [None] when there is none


def _thread_functions(library):
    """(getter or None, setter) of one OpenBLAS library's thread count, by the first setter
    name in `OPENBLAS_SETTERS` it exports; None when it exports none."""
    for symbol in OPENBLAS_SETTERS:
        setter = getattr(library, symbol, None)
        if setter is not None:
            return getattr(library, symbol.replace("_set_", "_get_"), None), setter
    return None


def openblas_thread_controls():
    """The thread-count getter and setter of the first loaded OpenBLAS (ctypes functions:
    `get()` -> int, `set(n)`), or None (no shared OpenBLAS found); looked up once."""
    if not _openblas_controls:
        found = None
        for library in openblas_libraries():
            functions = _thread_functions(library)
            if functions is not None and functions[0] is not None:
                found = functions
                break
        _openblas_controls.append(found)
    return _openblas_controls[0]


def _set_openblas_threads(n: int) -> bool:
    """Sets the thread count of every loaded OpenBLAS through its own setter; whether one
    was found."""
    found = False
    for library in openblas_libraries():
        functions = _thread_functions(library)
        if functions is not None:
            functions[1](int(n))
            found = True
    return found


def parallel_threshold() -> int:
    """The work (elements times a kernel's relative cost) from which a kernel uses threads.

    Smaller calls run serially in the calling thread: waking the thread pool costs tens of
    microseconds, more than a small kernel's whole run.
    """
    return _parallel_threshold


def set_parallel_threshold(work: int) -> None:
    """Sets `parallel_threshold()`; 0 makes every kernel call use threads (when n > 1)."""
    global _parallel_threshold
    if isinstance(work, bool) or not isinstance(work, (int, np.integer)) or work < 0:
        raise ValueError(f"set_parallel_threshold: work must be an int >= 0. Received: {work!r}")
    _parallel_threshold = int(work)


_spin_seconds = 0.02
_spin_hooks: list = []  # called when a setting the spinners depend on changes


def spin_seconds() -> float:
    """How long, after the engine last ran a compiled step, it keeps the CPUs its threads run
    on busy at idle priority (`backend.spinners`; 0.02 s unless changed, 0: never)."""
    return _spin_seconds


def set_spin_seconds(seconds: float) -> None:
    """Sets `spin_seconds()`. The spinners run only at idle priority, so they never take a CPU
    from a thread that has work, this process's or another's; they show as CPU use in `top`
    while the engine works. 0 turns them off.

    Example:
        >>> import kerasish as keras
        >>> keras.config.set_spin_seconds(0.05)
        >>> keras.config.spin_seconds()
        0.05
        >>> keras.config.set_spin_seconds(0.02)
    """
    global _spin_seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)):
        raise TypeError(f"set_spin_seconds: seconds must be a number. Received: {seconds!r}")
    if not 0 <= seconds <= 10:
        raise ValueError(f"set_spin_seconds: seconds must be in [0, 10]. Received: {seconds!r}")
    _spin_seconds = float(seconds)
    _spin_settings_changed()


def _spin_settings_changed() -> None:
    for hook in _spin_hooks:
        hook()


_plan_cache_size = 32


def plan_cache_size() -> int:
    """How many compiled versions (one per input signature) each compiled function keeps;
    the least recently used one is dropped beyond that (32 unless changed)."""
    return _plan_cache_size


def set_plan_cache_size(n: int) -> None:
    """Sets how many compiled versions each compiled function keeps (at least 1). A model's
    train, test and predict steps are separate functions, each with its own cache; a version
    holds its buffers (a batch's activations), so a smaller cache bounds memory when many
    batch sizes pass through. Caches already over the new size shrink at their next new version."""
    global _plan_cache_size
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_plan_cache_size expects an int >= 1. Received: n={n!r}")
    _plan_cache_size = int(n)


def jit_options() -> dict:
    """The keyword arguments every kernel is compiled with (`numba.njit(**jit_options())`).

    `cache` is on when a cache directory is usable (see `cache_dir`), `fastmath` off (results
    follow IEEE rules, so they match the numpy references), `nogil` on (threaded calls run
    the kernels on several Python threads at once), `error_model="numpy"` (a division by zero
    gives inf/nan instead of raising, and no checks slow the loops), `boundscheck` off. Never
    `parallel`: the engine threads its kernels itself (`backend.workers`). `no_cfunc_wrapper`
    on: Numba skips the C-callable wrapper it would build and optimize beside each compiled
    function (nothing here takes a kernel's C address), about 7% of a kernel's compile time.
    """
    cache = _jit_settings["cache"]
    usable = bool(os.environ.get("NUMBA_CACHE_DIR")) or cache_dir() is not None
    return {
        "cache": usable if cache is None else (cache and usable),
        "fastmath": _jit_settings["fastmath"],
        "nogil": True,
        "error_model": "numpy",
        "boundscheck": False,
        "no_cfunc_wrapper": True,
    }


#: LLVM's IR optimization level for the engine's kernels. Level 1 compiles the MNIST convnet's
#: kernels in about 2/3 of level 3's time (Winograd's input gradient: 4.3 -> 2.1 s of CPU)
#: and they run as fast: the loops that matter are vectorized at both levels
#: (docs/internals/kernels.md, "Start-up"). Without fast-math the optimizations never change
#: a result.
_LLVM_OPT_LEVEL = 1


def llvm_opt_level() -> int | None:
    """The LLVM optimization level (0-3) the engine's kernels are compiled at; None when the
    user set `NUMBA_OPT`, whose level then applies to every kernel (Numba's own setting).

    `KERASISH_LLVM_OPT` (0-3) overrides the default for a process, for measuring."""
    if os.environ.get("NUMBA_OPT", "").strip():
        return None
    value = os.environ.get("KERASISH_LLVM_OPT", "").strip()
    if value in ("0", "1", "2", "3"):
        return int(value)
    return _LLVM_OPT_LEVEL


def set_jit_options(fastmath: bool | None = None, cache: bool | None = None) -> None:
    """Changes the flags kernels are compiled with; `None` leaves a flag as it is.

    Kernels read the flags when `backend.kernels` is first imported, so call this before the
    first compiled step; later calls take effect in a new process (a warning says so).
    """
    for name, value in (("fastmath", fastmath), ("cache", cache)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"set_jit_options: {name} must be a bool. Received: {value!r}")
    if fastmath is not None:
        _jit_settings["fastmath"] = fastmath
    if cache is not None:
        _jit_settings["cache"] = cache
    if "backend.kernels" in sys.modules:
        warnings.warn(
            "set_jit_options: the kernels are already loaded with the old flags; the new ones "
            "apply in a new process.",
            stacklevel=2,
        )


def _user_cache_root() -> str | None:
    """The platform's per-user cache folder for kerasish: `$XDG_CACHE_HOME/kerasish` or
    `~/.cache/kerasish` on Linux, `~/Library/Caches/kerasish` on macOS,
    `%LOCALAPPDATA%\\kerasish\\Cache` on Windows; None when there is no home."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "").strip()
        return os.path.join(base, "kerasish", "Cache") if base else None
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return None if home == "~" else os.path.join(home, "Library", "Caches", "kerasish")
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base:
        if home == "~":
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "kerasish")


def _version() -> str:
    """The installed kerasish distribution's version ("unknown" when run from an uninstalled
    source tree); read from the package metadata, since the engine never imports kerasish."""
    from importlib import metadata

    try:
        return metadata.version("kerasish")
    except metadata.PackageNotFoundError:
        return "unknown"


_cache_key: str | None = None


def cache_key() -> str:
    """`<kerasish version>-<CPU name>-<hash of the CPU's features>`: the cache subfolder, so a
    new version or another CPU (a copied home folder, a cluster's mixed nodes) starts afresh
    instead of piling up kernels Numba would refuse to load."""
    global _cache_key
    if _cache_key is None:
        import hashlib
        import platform

        try:
            from llvmlite import binding

            cpu = binding.get_host_cpu_name()
        except ImportError:  # pragma: no cover - llvmlite comes with numba
            cpu = platform.machine() or "cpu"
        features = host_cpu_features() or platform.processor()
        digest = hashlib.sha256(f"{platform.machine()} {features}".encode()).hexdigest()[:10]
        _cache_key = f"{_version()}-{cpu}-{digest}"
    return _cache_key


def _usable_dir(path: str) -> bool:
    """Whether `path` is (or can be made) a directory this process may write in."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def cache_dir() -> str | None:
    """Where compiled kernels (and generated kernel sources) are cached between processes.

    A subfolder named by `cache_key()` (the kerasish version and the CPU) of
    `KERASISH_CACHE_DIR` when that is set, else of the platform's user cache folder (see
    `_user_cache_root`); created if missing. Never inside the installed package or a source
    tree. None when neither can be written, and then caching is off. A `KERASISH_CACHE_DIR`
    that cannot be written falls back to the user cache folder, with a warning.
    """
    requested = os.environ.get("KERASISH_CACHE_DIR", "").strip()
    if requested:
        path = os.path.join(os.path.abspath(os.path.expanduser(requested)), cache_key())
        if _usable_dir(path):
            return path
        warnings.warn(
            f"KERASISH_CACHE_DIR={requested!r} is not a writable directory; caching compiled "
            "kernels elsewhere.",
            stacklevel=2,
        )
    root = _user_cache_root()
    if root is not None:
        path = os.path.join(root, cache_key())
        if _usable_dir(path):
            return path
    return None


def _prefer_wide_vectors() -> None:
    """On a CPU with AVX-512, lets LLVM vectorize Numba's loops 512 bits wide.

    LLVM's tuning for recent Intel server CPUs prefers 256-bit vectors, so Numba kernels ran
    at half their possible width: Numba is told the host's features plus `-prefer-256-bit`
    through `NUMBA_CPU_FEATURES`, read when numba is imported. The results do not change (the
    same operations per lane; loops that reduce in order are not vectorized either way), only
    the speed: the MNIST convnet's fit 5-14% faster, predict 7-13%, its first layer's window
    kernel 1.23 -> 0.90 ms. Skipped when the user set `NUMBA_CPU_FEATURES` (theirs wins), when
    `KERASISH_WIDE_VECTORS=0`, when numba is already imported, or without AVX-512.
    """
    if (
        os.environ.get("NUMBA_CPU_FEATURES")
        or os.environ.get("KERASISH_WIDE_VECTORS", "1") == "0"
        or "numba" in sys.modules
    ):
        return
    if has_avx512():
        os.environ["NUMBA_CPU_FEATURES"] = host_cpu_features() + ",-prefer-256-bit"


@functools.cache
def host_cpu_features() -> str:
    """The host CPU's features as LLVM names them ("+avx2,+fma,-avx512f,..."), read once;
    empty without llvmlite."""
    try:
        from llvmlite import binding
    except ImportError:  # pragma: no cover - llvmlite comes with numba
        return ""
    return binding.get_host_cpu_features().flatten()


def has_avx512() -> bool:
    """Whether the host CPU has AVX-512 (and with it 32 vector registers)."""
    return "+avx512f" in host_cpu_features().split(",")


def prepare_numba() -> None:
    """Points Numba's cache at `cache_dir()` and sets its vector width
    (`_prefer_wide_vectors`); `backend.kernels` calls it before importing numba.

    Numba reads `NUMBA_CACHE_DIR` when it is imported, so the variable is set first (unless
    the user set it, which wins); if numba is already imported, `numba.config.CACHE_DIR` is
    set instead, which kernels decorated afterwards read.
    """
    global _numba_prepared
    if not _numba_prepared:
        _prefer_wide_vectors()
    if _numba_prepared or os.environ.get("NUMBA_CACHE_DIR"):
        _numba_prepared = True
        return
    path = cache_dir()
    _numba_prepared = True
    if path is None:
        return
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ["NUMBA_CACHE_DIR"] = path
    else:
        numba.config.CACHE_DIR = path
