"""The matrix products of one MLP training step, timed alone with numpy: the floor under the
step that no work outside the products can lower.

    python benchmarks/mlp_gemms.py [--batch 128] [--rounds 5]

A training step of the 784-512-512-10 MLP (batch 128) runs eight products: three forward
(x @ W), three weight gradients (h^T @ dy) and two input gradients (dy @ W^T; the first
layer's input needs none). Each is timed here on its own with `np.matmul(..., out=...)` on
preallocated arrays, in rounds alternating with numpy's float32 2048x2048 matmul (the suite's
peak figure), so both see the same machine. It prints each product's time and GFLOP/s, the
step's products in all, and the time those products would take at the 2048x2048 rate.
Compare the sum with the benchmark's step time (`run.py --workloads mlp-fit`): a step can be
no faster than its products unless the products themselves get faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

common.apply_thread_env(None)

import numpy as np  # noqa: E402
from mlp import LAYERS  # noqa: E402


def products(batch: int) -> list[tuple[str, tuple, tuple, bool, bool]]:
    """(name, A's shape as stored, B's shape as stored, transpose A, transpose B)."""
    out = []
    for i, (fan_in, fan_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:], strict=True)):
        out.append((f"forward {i + 1}: x @ W", (batch, fan_in), (fan_in, fan_out), False, False))
        out.append((f"weight gradient {i + 1}: x^T @ dy", (batch, fan_in), (batch, fan_out),
                    True, False))  # fmt: skip
        if i:
            out.append((f"input gradient {i + 1}: dy @ W^T", (batch, fan_out), (fan_in, fan_out),
                        False, True))  # fmt: skip
    return out


def seconds_per_call(call, repeats: int) -> float:
    for _ in range(3):
        call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n = 2048
    big_a, big_b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    big_out = np.empty((n, n), np.float32)
    cases = []
    for name, a_shape, b_shape, ta, tb in products(args.batch):
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        a, b = (a.T if ta else a), (b.T if tb else b)
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        cases.append((name, a, b, out, flops))
    peaks, times = [], {name: [] for name, *_ in cases}
    for _ in range(args.rounds):  # rounds alternate the peak and the step's products
        peaks.append(2 * n**3 / seconds_per_call(lambda: np.matmul(big_a, big_b, out=big_out), 3))
        for name, a, b, out, _flops in cases:
            product = lambda a=a, b=b, o=out: np.matmul(a, b, out=o)  # noqa: E731
            times[name].append(seconds_per_call(product, 100))
    peak = statistics.median(peaks)
    print(common.blas_kernel())
    print(f"numpy float32 2048x2048 matmul: {peak / 1e9:.1f} GFLOP/s "
          f"(rounds {min(peaks) / 1e9:.1f}-{max(peaks) / 1e9:.1f})")  # fmt: skip
    total_s = total_flops = 0.0
    for name, a, b, _out, flops in cases:
        s = statistics.median(times[name])
        total_s, total_flops = total_s + s, total_flops + flops
        shape = f"{a.shape[0]}x{a.shape[1]} @ {b.shape[0]}x{b.shape[1]}"
        print(f"  {name:34s} {shape:20s} {s * 1e6:8.1f} us {flops / s / 1e9:7.1f} GFLOP/s "
              f"({flops / s / peak:4.0%})")  # fmt: skip
    print(
        f"the step's products: {total_s * 1e3:.2f} ms for {total_flops / 1e6:.0f} MFLOP, "
        f"{total_flops / total_s / 1e9:.1f} GFLOP/s ({total_flops / total_s / peak:.0%} of the "
        f"2048x2048 rate, at which they would take {total_flops / peak * 1e3:.2f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
