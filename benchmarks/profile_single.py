"""Where a single-sample `model(x)` call spends its time: cProfile over many calls.

    python benchmarks/profile_single.py                      # 2000 calls of model(x1)
    python benchmarks/profile_single.py --call predict_on_batch --calls 5000 --top 30

The model is the benchmark's 784-512-512-10 MLP (`mlp.keras_model`); x1 is one (1, 784)
float32 numpy sample. Warm-up calls (Plan trace and compile) run before profiling. Prints the
plain time per call, then the profile sorted by internal time and by cumulative time, with
per-call figures (microseconds per `model(x1)` call) for the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--call", choices=("model", "predict_on_batch"), default="model")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)

    import mlp
    import numpy as np

    model = mlp.keras_model()
    x1 = np.ascontiguousarray(mlp.dataset(1, seed=2)[0])
    call = (lambda: model(x1)) if args.call == "model" else (lambda: model.predict_on_batch(x1))
    for _ in range(200):
        call()

    t0 = time.perf_counter()
    for _ in range(args.calls):
        call()
    plain = (time.perf_counter() - t0) / args.calls
    print(f"{args.call}(x1): {plain * 1e6:.1f} us/call unprofiled ({1 / plain:.0f} calls/s)")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.calls):
        call()
    profiler.disable()

    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(f"profiled: {total / args.calls * 1e6:.1f} us/call (cProfile overhead included)\n")
    for key, title in (("tottime", "internal time"), ("cumulative", "cumulative time")):
        print(f"top {args.top} by {title} (us per {args.call} call: own, cumulative; calls each)")
        rows = sorted(
            stats.stats.items(), key=lambda kv: kv[1][2 if key == "tottime" else 3], reverse=True
        )
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows[: args.top]:
            where = f"{os.path.relpath(filename) if filename != '~' else ''}:{line}({name})"
            print(
                f"  {tt / args.calls * 1e6:7.2f} {ct / args.calls * 1e6:8.2f} "
                f"{nc / args.calls:6.1f}  {where}"
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
