"""The fused LSTM op against PyTorch's `nn.LSTM`, engine level, interleaved rounds.

Shapes of the team's text benchmark (Embedding(20000, 128) -> LSTM(64) -> Dense(1) on
length-200 sequences): batch 32 forward and forward + backward (the gradients of the
input kernel, the recurrent kernel and the bias from the last state), and batch 256
inference. Ours is a compiled function (`backend.compiler.function`): the input projection
as one GEMM, the fused LSTM op, and in training its fused backward and the kernels'
GEMMs. PyTorch runs `nn.LSTM(batch_first=True)` on the same shapes and thread count.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /work/venvs/bench/bin/python \\
        benchmarks/lstm_kernels.py [--rounds 7] [--threads 2]

Prints, per workload, the median time per call and its spread (min-max over rounds, each
round the mean of several calls) for both, and the ratio of the medians. `--clock cpu` times
the process's CPU time instead of the wall clock: with `--threads 1` on a machine other
programs keep busy, that measures the work itself (the wall clock also counts the waits).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import apply_thread_env, set_threads  # noqa: E402


def _ours(batch, steps, features, units, train):
    import numpy as np

    from backend import compiler, ops
    from backend.autodiff import GradientTape
    from backend.variables import Variable

    rng = np.random.default_rng(0)
    kernel = Variable(rng.standard_normal((features, 4 * units)).astype(np.float32) * 0.1)
    recurrent = Variable(rng.standard_normal((units, 4 * units)).astype(np.float32) * 0.1)
    bias = Variable(np.zeros(4 * units, np.float32))
    zeros = np.zeros((batch, units), np.float32)
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)

    def forward(x):
        proj = ops.matmul(x, kernel) + bias
        _, h, _ = ops.lstm_sequence(proj, recurrent, zeros, zeros)
        return h

    def train_step(x):
        with GradientTape() as tape:
            loss = ops.sum(forward(x))
        return tape.gradient(loss, [kernel, recurrent, bias])

    fn = compiler.function(train_step if train else forward)
    fn(x)
    return lambda: fn(x)


def _torch(batch, steps, features, units, train):
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(features, units, batch_first=True)
    x = torch.randn(batch, steps, features)

    def forward():
        with torch.no_grad():
            lstm(x)

    def train_step():
        lstm.zero_grad()
        _, (h, _) = lstm(x)
        h.sum().backward()

    call = train_step if train else forward
    call()
    return call


def _time(call, calls: int, clock) -> float:
    start = clock()
    for _ in range(calls):
        call()
    return (clock() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5, help="calls per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    apply_thread_env(args.threads)
    set_threads(args.threads)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    workloads = [
        ("forward, batch 32", (32, 200, 128, 64, False)),
        ("forward + backward, batch 32", (32, 200, 128, 64, True)),
        ("inference, batch 256", (256, 200, 128, 64, False)),
    ]
    for title, shape in workloads:
        runners = {"kerasish": _ours(*shape)}
        if torch is not None:
            runners["pytorch"] = _torch(*shape)
        times = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, call in runners.items():  # interleaved: both see the same machine load
                times[name].append(_time(call, args.calls, clock))
        print(f"{title} (B, T, in, U = {shape[:4]}), {args.threads} threads, {args.clock} clock:")
        medians = {}
        for name, ts in times.items():
            medians[name] = statistics.median(ts)
            print(f"  {name:9s} median {medians[name] * 1e3:7.2f} ms"
                  f"  (min {min(ts) * 1e3:.2f}, max {max(ts) * 1e3:.2f})")  # fmt: skip
        if "pytorch" in medians:
            print(f"  pytorch / kerasish = {medians['pytorch'] / medians['kerasish']:.2f}x")


if __name__ == "__main__":
    main()
