"""Shared helpers for the benchmark scripts: threads, the environment, the load meter, the
matmul ceiling, memory, and the settings every model shares (Adam, initial weights).

Nothing here imports kerasish at module level, so `apply_thread_env` can run before numpy,
numba or the engine are imported (the BLAS and Numba thread pools read their environment
variables once, at start).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time

# Variables an older OpenBLAS needed on this kind of machine; they slow a current numpy.
OPENBLAS_WORKAROUND_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BLAS_ENV_VARS = ("OPENBLAS_THREAD_TIMEOUT",)


def apply_thread_env(threads: int | None) -> None:
    """Sets the BLAS/OpenMP/Numba thread variables to `threads` (call before importing numpy)
    and imports the engine.

    This is the fallback for when threadpoolctl is not installed; `set_threads` below also sets
    the pools at run time where it can.
    """
    if threads is not None:
        for name in (*THREAD_ENV_VARS, "NUMBA_NUM_THREADS"):
            os.environ[name] = str(threads)
    # The engine before numpy, as a user's `import kerasish` first would: it sets its process
    # defaults for BLAS (OPENBLAS_THREAD_TIMEOUT) before numpy loads OpenBLAS; and its kernels
    # before anything here imports numba, as a user's first `fit` would: they set Numba's
    # cache and vector width (`config.prepare_numba`) before numba is imported.
    import backend  # noqa: F401
    import backend.kernels  # noqa: F401


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


_LIMITS = []  # keeps threadpoolctl's limiter alive for the whole run


def set_threads(threads: int | None) -> int:
    """Sets our thread count (Numba and BLAS) and returns the count in effect.

    Uses `backend.config.set_num_threads` when the engine has it, else Numba's own setter;
    BLAS threads through threadpoolctl when installed. With `threads=None` nothing changes and
    the current Numba thread count is returned.
    """
    import numba

    from backend import config

    if threads is not None:
        if hasattr(config, "set_num_threads"):
            config.set_num_threads(threads)
        else:
            numba.set_num_threads(threads)
        tpc = _threadpoolctl()
        if tpc is not None:
            _LIMITS.append(tpc.threadpool_limits(limits=threads))
    return numba_threads()


def numba_threads() -> int:
    from backend import config

    if hasattr(config, "get_num_threads"):
        return int(config.get_num_threads())
    import numba

    return int(numba.get_num_threads())


def blas_info() -> list[dict]:
    """threadpoolctl's view of the loaded BLAS/OpenMP pools (empty when not installed)."""
    tpc = _threadpoolctl()
    if tpc is None:
        return []
    keep = ("user_api", "internal_api", "num_threads", "version", "architecture", "prefix")
    return [{k: info.get(k) for k in keep} for info in tpc.threadpool_info()]


def blas_kernel() -> str:
    """The BLAS library and the CPU kernel it picked at run time, as threadpoolctl reports them
    ("openblas 0.3.31 Haswell"); "unknown (threadpoolctl not installed)" without it."""
    tpc = _threadpoolctl()
    if tpc is None:
        return "unknown (threadpoolctl not installed)"
    pools = [p for p in blas_info() if p["user_api"] == "blas"]
    if not pools:
        return "unknown (no BLAS loaded)"
    return "; ".join(
        f"{p['internal_api']} {p['version'] or ''} {p['architecture'] or ''}".strip()
        + f" ({p['num_threads']} threads)"
        for p in pools
    )


def numpy_blas_name() -> str:
    """The BLAS numpy was built against, from numpy's own build config."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no mode="dicts"
        return "unknown"


def environment_report(torch_threads: int | None = None) -> dict:
    """What a reader needs to judge the figures: machine, versions, threads, BLAS, env vars."""
    import numba
    import numpy as np

    env = {
        name: os.environ.get(name)
        for name in (*OPENBLAS_WORKAROUND_VARS, *THREAD_ENV_VARS, *BLAS_ENV_VARS)
    }
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numpy_blas": numpy_blas_name(),
        "threadpoolctl": blas_info() if _threadpoolctl() is not None else None,
        "numba_threads": numba_threads(),
        "numba_threading_layer": _numba_layer(),
        "torch_threads": torch_threads,
        "env": env,
    }


def _numba_layer() -> str | None:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return None


def format_environment(report: dict) -> list[str]:
    lines = [
        f"python {report['python']}, numpy {report['numpy']}, numba {report['numba']}, "
        f"{report['platform']}, {report['cpu_count']} CPUs",
        f"numpy BLAS (build): {report['numpy_blas']}",
    ]
    pools = report["threadpoolctl"]
    if pools is None:
        lines.append("BLAS at run time: threadpoolctl not installed (pip install threadpoolctl)")
    else:
        for pool in pools:
            lines.append(
                f"thread pool: {pool['internal_api']} {pool['version'] or ''} "
                f"({pool['user_api']}, {pool['architecture'] or '-'}), "
                f"{pool['num_threads']} threads, {os.path.basename(pool['prefix'] or '?')}"
            )
    layer = report["numba_threading_layer"] or "not chosen yet"
    torch_threads = report["torch_threads"]
    lines.append(
        f"threads: numba {report['numba_threads']} (layer: {layer}), torch "
        f"{torch_threads if torch_threads is not None else 'n/a'}"
    )
    features = os.environ.get("NUMBA_CPU_FEATURES") or ""
    lines.append(
        "numba vectors: "
        + ("512-bit preferred" if features.endswith("-prefer-256-bit") else "the CPU's default")
    )
    set_vars = {k: v for k, v in report["env"].items() if v is not None}
    workaround = [k for k in OPENBLAS_WORKAROUND_VARS if report["env"].get(k) is not None]
    lines.append(
        "env: " + (", ".join(f"{k}={v}" for k, v in set_vars.items()) if set_vars else "none set")
    )
    if workaround:
        lines.append(
            f"WARNING: {' and '.join(workaround)} set (an old OpenBLAS workaround); they can slow "
            "a current numpy's BLAS. For benchmarking run with: "
            f"env -u {' -u '.join(OPENBLAS_WORKAROUND_VARS)} python benchmarks/run.py"
        )
    return lines


def _cpu_times() -> tuple[int, int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle


class LoadMeter:
    """Measures the fraction of all CPUs used by *other* processes between start() and stop()."""

    def start(self) -> None:
        self._cpu = _cpu_times()
        self._ours = time.process_time()

    def stop(self) -> float | None:
        after, ours = _cpu_times(), time.process_time() - self._ours
        if self._cpu is None or after is None:
            return None
        total = after[0] - self._cpu[0]
        if total <= 0:
            return None
        ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = total - (after[1] - self._cpu[1]) - ours * ticks_per_s
        return min(1.0, max(0.0, busy / total))


def other_load(seconds: float = 0.5) -> float | None:
    """Fraction of all CPUs busy with other processes while we sleep (Linux; None elsewhere).

    Anything well above 0 means another process is competing for the cores, and BLAS/OpenMP
    thread pools (which wait on each other at every barrier) can slow down many times over.
    """
    meter = LoadMeter()  # our own threads (a BLAS pool still spinning) do not count
    meter.start()
    time.sleep(seconds)
    return meter.stop()


def busy_warning(load: float | None) -> str | None:
    if load is None or load < 0.1:
        return None
    return (
        f"WARNING: the machine was {load:.0%} busy with other work while idle-probed; "
        "figures will be low and noisy (thread pools stall when a core is taken). Re-run on "
        "an idle machine."
    )


# --------------------------------------------------------------------------------------------
# The matmul ceiling, memory, the machine


def matmul_peak(n: int = 2048, runs: int = 5) -> dict:
    """numpy's float32 n x n matmul speed, best of `runs` (after one untimed run)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: pages touched, BLAS threads started
    best = math.inf
    meter = LoadMeter()
    meter.start()
    for _ in range(runs):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    other = meter.stop()
    flops = 2.0 * n * n * n
    return {
        "n": n,
        "runs": runs,
        "best_seconds": best,
        "gflops": flops / best / 1e9,
        "other_load": other,
    }


def rss_mb() -> float | None:
    """This process's resident set size now, in MB (Linux's /proc; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """The most resident memory this process has held since it started, in MB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # kB on Linux, B on macOS


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------------------------
# What every model shares, so ours, Keras' and PyTorch's copies start the same

ADAM_LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7  # Keras' default (PyTorch's is 1e-8)


def adam(keras):
    """`keras.optimizers.Adam(1e-3, epsilon=1e-7)` from the given Keras-API module."""
    return keras.optimizers.Adam(ADAM_LEARNING_RATE, epsilon=ADAM_EPSILON)


def initial_weights(specs: list[tuple[str, tuple]], seed: int = 0) -> list:
    """Deterministic float32 weights for `specs` ((name, shape) in `model.weights` order).

    Kernels and embeddings are Glorot-uniform (fan-in and fan-out counted as Keras does for
    dense and convolution kernels), biases and `beta`/`moving_mean` zeros, `gamma` and
    `moving_variance` ones. Framework-independent, so every copy of a model holds the same
    numbers.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = []
    for name, shape in specs:
        if name in ("gamma", "moving_variance"):
            weights.append(np.ones(shape, dtype=np.float32))
        elif len(shape) < 2:
            weights.append(np.zeros(shape, dtype=np.float32))
        else:
            receptive = math.prod(shape[:-2])
            limit = math.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
            weights.append(rng.uniform(-limit, limit, shape).astype(np.float32))
    return weights
