"""One framework running one workload, in its own process, driven by `run.py`.

    python benchmarks/worker.py --workload mlp-fit --framework ours --threads 2

Not meant to be run by hand: `run.py` starts one worker per framework for each workload and
talks to it in JSON lines. The worker sets its thread count before any numeric library is
imported, imports its framework (kerasish, torch, or Keras 3 on JAX), builds the model and
data, runs the agreement check and the warm-up, then says `ready`. Each `run` line from
`run.py` makes it time one repeat of every row (one `time.perf_counter` interval each, with
the other processes' CPU load over it); `finish` makes it report its peak RSS and exit.
Whatever a framework prints goes to stderr: stdout carries only the messages.

`--framework numpy --workload matmul-peak` measures numpy's float32 2048x2048 matmul instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402  (no numpy at module level: threads are set first)

FRAMEWORKS = ("ours", "torch", "keras-jax", "numpy")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", required=True)
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--cpus", default=None, help="comma-separated CPUs to pin to")
    parser.add_argument("--target-seconds", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true")
    return parser.parse_args(argv)


class Channel:
    """The message stream to run.py: the original stdout; fd 1 itself then points at stderr,
    so anything a library prints cannot corrupt a message."""

    def __init__(self):
        sys.stdout.flush()
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, event: str, **data) -> None:
        self._out.write(json.dumps({"event": event, **data}, default=_plain) + "\n")
        self._out.flush()


def _plain(value):
    """JSON for numpy arrays and scalars."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def set_threads_env(threads: int, cpus: str | None) -> None:
    """Thread counts for every pool (and the CPU pinning), before numpy or a framework loads."""
    for name in (*common.THREAD_ENV_VARS, "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def load_framework(name: str, threads: int):
    """Imports the framework (kerasish, torch, keras on JAX, numpy) with `threads` threads."""
    if name == "ours":
        common.apply_thread_env(threads)  # the engine before numpy: its BLAS defaults
        import kerasish

        common.set_threads(threads)
        return kerasish
    if name == "torch":
        import torch

        torch.set_num_threads(threads)
        return torch
    if name == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import keras

        return keras
    import numpy as np

    return np


def describe(name: str, module) -> dict:
    """Versions, threads and BLAS of the framework, as loaded (after the run: Numba's
    threading layer is chosen by the first parallel kernel)."""
    import numpy as np

    kernel = {"blas_kernel": common.blas_kernel()}
    if name == "ours":
        return {"kerasish": _version(module), **common.environment_report(), **kernel}
    if name == "torch":
        blas = [line.strip() for line in module.__config__.show().splitlines() if "BLAS" in line]
        return {
            "torch": module.__version__,
            "numpy": np.__version__,
            "torch_threads": module.get_num_threads(),
            "torch_interop_threads": module.get_num_interop_threads(),
            "mkldnn": bool(module.backends.mkldnn.is_available()),
            "torch_blas": blas,
            **kernel,
        }
    if name == "keras-jax":
        import jax

        return {
            "keras": module.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
            "keras_backend": module.backend.backend(),
            "devices": [str(d) for d in jax.devices()],
            "cpus_usable": len(os.sched_getaffinity(0)),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
            **kernel,
        }
    return {"numpy": np.__version__, "numpy_blas": common.numpy_blas_name(), **kernel}


def _version(module) -> str:
    return getattr(module, "__version__", "?")


def build_runner(framework: str, module, args):
    import workloads

    work = workloads.WORKLOADS[args.workload]
    options = {"quick": args.quick, "target_s": args.target_seconds}
    if framework == "torch":
        return workloads.TorchRunner(module, work, **options)
    if framework == "ours" and work.kind == "step":
        return workloads.StepRunner(work, **options)
    return workloads.KerasRunner(module, work, ours=framework == "ours", **options)


def matmul_peak(channel: Channel, args) -> None:
    import numpy as np

    peak = common.matmul_peak(2048, runs=2 if args.quick else 5)
    channel.send("done", matmul_peak=peak, environment=describe("numpy", np))


def serve(channel: Channel, runner) -> None:
    """Answers `run` (one timed repeat of every row) until `finish`."""
    for line in sys.stdin:
        command = line.strip()
        if command == "finish":
            return
        if command != "run":
            raise ValueError(f"unknown command from run.py: {command!r}")
        results = {}
        for name, row in runner.rows.items():
            meter = common.LoadMeter()
            meter.start()
            t0 = time.perf_counter()
            units = row()
            seconds = time.perf_counter() - t0
            results[name] = {"seconds": seconds, "units": units, "other_load": meter.stop()}
        channel.send("repeat", rows=results)


def main(argv=None) -> int:
    args = parse_args(argv)
    channel = Channel()
    set_threads_env(args.threads, args.cpus)
    stage = "import"
    try:
        t0 = time.perf_counter()
        module = load_framework(args.framework, args.threads)
        import_seconds = time.perf_counter() - t0
        if args.framework == "numpy":
            matmul_peak(channel, args)
            return 0
        rss_after_import = common.rss_mb()
        stage = "build"
        runner = build_runner(args.framework, module, args)
        stage = "check"
        checks = runner.check()
        stage = "warm-up"
        warmup_seconds = runner.warm_up()
        channel.send(
            "ready",
            rows=list(runner.rows),
            samples=runner.samples,
            import_seconds=import_seconds,
            warmup_seconds=warmup_seconds,
            rss_after_import_mb=rss_after_import,
            checks=checks,
        )
        stage = "timing"
        serve(channel, runner)
        loaded = [m for m in ("torch", "jax", "kerasish", "numba") if m in sys.modules]
        channel.send(
            "done",
            peak_rss_mb=common.peak_rss_mb(),
            rss_mb=common.rss_mb(),
            environment=describe(args.framework, module),
            modules_loaded=loaded,
        )
    except Exception as exc:
        not_installed = isinstance(exc, ImportError) and stage == "import"
        channel.send(
            "error",
            stage=stage,
            error=common.short_error(exc),
            not_installed=not_installed,
            traceback=traceback.format_exc(),
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
