"""Where one compiled step of the convnet or LSTM benchmark spends its time, kernel by kernel.

    python benchmarks/profile_convnet.py                  # train step (batch 128), predict (512)
    python benchmarks/profile_convnet.py --reps 20 --steps 15
    python benchmarks/profile_convnet.py --model lstm     # the lstm suite's text classifier
    python benchmarks/profile_convnet.py --model cifar    # the CIFAR-shaped residual convnet

The model is `convnet.keras_model()` (the keras.io MNIST convnet on 28x28x1), or with
`--model lstm` the lstm suite's `Embedding -> LSTM -> Dense` on length-200 sequences. One warm-up
`fit` epoch and one `predict` build the compiled Plans; then, for each Plan in
`model._step_fns`, every step of the Plan's flat list (`plan.steps`: a fused elementwise kernel,
a conv, a matmul, ...) is timed on its own over `--reps` passes of the whole list (the buffers
hold the last real batch; the optimizer's Variables keep being updated, as in training). Prints
ms per step grouped by step name, the largest single steps, and the whole `plan.run` and
`fit` / `predict` per batch for comparison (the rest is Python outside the Plan: batching,
shuffling, callbacks, metrics).

With `--in-use`, the steps are timed inside real `fit` / `predict` calls instead (each step's
call wrapped with a clock; the median over `--reps` calls of each): the figures then include
what running between other steps costs (cold caches, thread pools waking after the BLAS or
Numba pool ran), which the replay does not show. On the 2-core VM the layer-2 steps read up to
1.5x higher that way.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _group(name: str) -> str:
    """A step's name without per-instance suffixes (numbers, shapes)."""
    return re.sub(r"[_#:]?\d+$", "", name)


def replay_plan(plan, reps: int) -> list:
    """Per-step seconds, the mean over `reps` passes replaying the Plan's step list."""
    arrays = plan.arrays
    steps = plan.steps
    per_step = [0.0] * len(steps)
    for _ in range(reps):
        for i, step in enumerate(steps):
            args = [arrays[j] for j in step.args]
            t0 = time.perf_counter()
            step.run(*args)
            per_step[i] += time.perf_counter() - t0
    return [t / reps for t in per_step]


def in_use(plan, use, reps: int) -> list:
    """Per-step seconds, the median over `reps` calls of `use()` (a real fit or predict that
    runs this Plan), each step's call timed where it runs."""
    import statistics

    times: list = [[] for _ in plan.steps]
    originals = [step.run for step in plan.steps]

    def clocked(i, run):
        def call(*arrays):
            t0 = time.perf_counter()
            run(*arrays)
            times[i].append(time.perf_counter() - t0)

        return call

    try:
        for i, step in enumerate(plan.steps):
            step.run = clocked(i, originals[i])
        for _ in range(reps):
            use()
    finally:
        for step, run in zip(plan.steps, originals, strict=True):
            step.run = run
    return [statistics.median(t) if t else 0.0 for t in times]


def group_steps(plan, per_step: list) -> tuple[dict, float]:
    """Seconds and counts by step name, and the sum of all steps."""
    steps = plan.steps
    by_name: dict = defaultdict(lambda: [0.0, 0])
    for step, t in zip(steps, per_step, strict=True):
        entry = by_name[_group(step.name)]
        entry[0] += t
        entry[1] += 1
    return by_name, sum(per_step)


def _time(fn, reps: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def report(title: str, plan, per_step: list, reps: int, top: int, per_batch: float | None,
           args_for_run):  # fmt: skip
    by_name, total = group_steps(plan, per_step)
    run_s = _time(lambda: plan.run(args_for_run), reps) if args_for_run is not None else None
    print(f"{title}: {len(plan.steps)} steps, sum of steps {total * 1e3:.2f} ms", end="")
    if run_s is not None:
        print(f", plan.run {run_s * 1e3:.2f} ms", end="")
    if per_batch is not None:
        print(f", per batch through the Keras API {per_batch * 1e3:.2f} ms", end="")
    print()
    print(f"  {'ms':>8s} {'%':>6s} {'count':>5s}  step name")
    for name, (t, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0]):
        print(f"  {t * 1e3:8.3f} {t / total:6.1%} {n:5d}  {name}")
    print(f"  largest {top} single steps:")
    order = sorted(range(len(per_step)), key=lambda i: -per_step[i])[:top]
    for i in order:
        step = plan.steps[i]
        shapes = [tuple(plan.slots[j].shape) for j in step.inputs]
        print(
            f"  {per_step[i] * 1e3:8.3f} {per_step[i] / total:6.1%}  #{i:<3d} {step.name} {shapes}"
        )
    print()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        choices=("convnet", "cifar", "lstm"),
        default="convnet",
        help="which suite's model",
    )
    parser.add_argument("--batch", type=int, help="fit batch (default: the suite's)")
    parser.add_argument("--predict-batch", type=int, help="predict batch (default: the suite's)")
    parser.add_argument("--steps", type=int, default=10, help="batches per fit epoch")
    parser.add_argument("--reps", type=int, default=10, help="passes over each Plan's steps")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument(
        "--in-use", action="store_true", help="time steps inside real fit/predict calls"
    )
    args = parser.parse_args(argv)

    import common

    common.apply_thread_env(None)  # the engine before numpy (its BLAS defaults)
    import importlib

    import numpy as np

    suite = importlib.import_module(args.model)
    args.batch = args.batch or getattr(suite, "FIT_BATCH", 128)
    args.predict_batch = args.predict_batch or suite.PREDICT_BATCH
    model = suite.keras_model()
    x, y = suite.dataset(args.batch * args.steps)
    xp, _ = suite.dataset(args.predict_batch * 2, seed=2)

    def fit():
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=True)

    def predict():
        model.predict(xp, batch_size=args.predict_batch, verbose=0)

    fit()
    predict()
    per_fit_batch = _time(fit, 2) / args.steps
    per_predict_batch = _time(predict, 2) / 2
    print(
        f"{args.model}: fit batch {args.batch}, predict batch {args.predict_batch}; threads: "
        f"numba {__import__('numba').get_num_threads()}\n"
    )
    for key, fn in model._step_fns.items():
        kind = key[0]
        for plan, _structure in fn._plans.values():
            inputs = [plan.slots[s] for s in plan.input_slots]
            shapes = [tuple(s.shape) for s in inputs]
            run_args = [np.zeros(s.shape, dtype=s.dtype) for s in inputs]
            if kind == "train":
                run_args = None  # plan.run on zeros would still train; not needed for the table
                per_batch = per_fit_batch
            elif kind == "predict":
                per_batch = per_predict_batch
            else:
                per_batch = None
            use = {"train": fit, "predict": predict}.get(kind)
            if args.in_use and use is not None:
                per_step = in_use(plan, use, args.reps)
            else:
                per_step = replay_plan(plan, args.reps)
            title = f"[{kind}{' in use' if args.in_use else ''}] inputs {shapes}"
            report(title, plan, per_step, args.reps, args.top, per_batch, run_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
