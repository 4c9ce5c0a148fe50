"""The fused row primitives (softmax, layer normalization) against the composites they
replace, each compiled into a Plan: forward alone, and forward + backward.

    PYTHONPATH=. python benchmarks/fused_rows.py [--rounds 7] [--calls 20]

A and B run interleaved, call by call, in one process: each round times `--calls` calls of
each and keeps the fastest; the table gives the median over rounds and the spread (min-max).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from backend import GradientTape, compiler, ops
from backend.ops.reduce import max_shift

SOFTMAX_SHAPES = [(128, 10), (4096, 512), (32 * 4 * 128, 128)]  # the last: B*heads*T rows of T
LAYER_NORM_SHAPES = [(128, 64), (4096, 512), (32 * 128, 256)]


def softmax_composite(x):
    e = ops.exp(ops.subtract(x, max_shift(x, (len(x.shape) - 1,))))
    return ops.divide(e, ops.sum(e, axis=-1, keepdims=True))


def layer_norm_composite(x, gamma, beta):
    """Keras' formula: moments, rsqrt, x * inv + (beta - mean * inv)."""
    mean, variance = ops.moments(x, axes=(-1,), keepdims=True)
    inv = ops.multiply(ops.divide(1.0, ops.sqrt(ops.add(variance, 1e-3))), gamma)
    return ops.add(ops.multiply(x, inv), ops.subtract(beta, ops.multiply(mean, inv)))


def layer_norm_fused(x, gamma, beta):
    return ops.layer_normalization(x, gamma, beta, axis=-1, epsilon=1e-3)


def _with_gradient(fn, n_params):
    def step(*arrays):
        with GradientTape() as tape:
            for a in arrays[: 1 + n_params]:
                tape.watch(a)
            loss = ops.sum(ops.multiply(fn(*arrays[: 1 + n_params]), arrays[-1]))
        return tape.gradient(loss, list(arrays[: 1 + n_params]))

    return step


def _time(fn, args, calls: int) -> float:
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def _ab(name, shape, a, b, args, rounds, calls):
    fa, fb = compiler.function(a), compiler.function(b)
    fa(*args), fb(*args)  # compile
    times_a, times_b = [], []
    for _ in range(rounds):
        times_a.append(_time(fa, args, calls))
        times_b.append(_time(fb, args, calls))
    ta, tb = np.array(times_a) * 1e6, np.array(times_b) * 1e6
    print(
        f"{name:<28} {str(shape):<14} composite {np.median(ta):9.0f} us "
        f"({ta.min():.0f}-{ta.max():.0f})   fused {np.median(tb):9.0f} us "
        f"({tb.min():.0f}-{tb.max():.0f})   x{np.median(ta) / np.median(tb):.2f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--only", choices=["softmax", "layer_norm"], default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.only in (None, "softmax"):
        for shape in SOFTMAX_SHAPES:
            x = (rng.standard_normal(shape) * 3).astype(np.float32)
            c = rng.standard_normal(shape).astype(np.float32)
            _ab("softmax forward", shape, softmax_composite, ops.softmax, (x,), args.rounds,
                args.calls)  # fmt: skip
            _ab("softmax forward+backward", shape, _with_gradient(softmax_composite, 0),
                _with_gradient(ops.softmax, 0), (x, c), args.rounds, args.calls)  # fmt: skip
    if args.only in (None, "layer_norm"):
        for shape in LAYER_NORM_SHAPES:
            x = rng.standard_normal(shape).astype(np.float32)
            gamma = (1 + 0.1 * rng.standard_normal(shape[-1])).astype(np.float32)
            beta = (0.1 * rng.standard_normal(shape[-1])).astype(np.float32)
            c = rng.standard_normal(shape).astype(np.float32)
            params = (x, gamma, beta)
            _ab("layer_norm forward", shape, layer_norm_composite, layer_norm_fused, params,
                args.rounds, args.calls)  # fmt: skip
            _ab("layer_norm forward+backward", shape, _with_gradient(layer_norm_composite, 2),
                _with_gradient(layer_norm_fused, 2), (*params, c), args.rounds,
                args.calls)  # fmt: skip


if __name__ == "__main__":
    main()
