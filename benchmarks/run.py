"""The benchmarks: a 784-512-512-10 MLP, the keras.io MNIST convnet and an LSTM text classifier,
ours against PyTorch.

    python benchmarks/run.py                      # every suite (a minute or two)
    python benchmarks/run.py --quick              # smoke run, a few seconds
    python benchmarks/run.py --suite fit          # one suite: mlp-step, fit, single, convnet, lstm
    python benchmarks/run.py --threads 1 --json /tmp/bench.json

- mlp-step: a raw training step (ops + GradientTape + SGD), eager and compiled, vs PyTorch.
- fit: `model.fit` (batch 128, Adam) vs PyTorch's equivalent loop, samples/s.
- single: single-sample `model(x)` and `predict_on_batch` vs PyTorch's `model(x)` under
  `inference_mode`, calls/s.
- convnet: the keras.io MNIST convnet on 28x28x1, `fit` (batch 128) and `predict` (batch 512)
  vs PyTorch's nn.Conv2d equivalent, samples/s (benchmarks/convnet.py).
- lstm: Embedding(20000, 128) -> LSTM(64) -> Dense(1) on length-200 sequences, `fit` (batch 32)
  and `predict` (batch 256) vs PyTorch's nn.LSTM equivalent, samples/s (benchmarks/lstm.py).

Prints the figures, the ratios to PyTorch, and GFLOP/s as a fraction of numpy's float32
2048x2048 matmul measured in the same run. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402  (no numpy import at module level: threads are set first)

SUITES = ("mlp-step", "fit", "single", "convnet", "lstm")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--suite",
        choices=(*SUITES, "all"),
        default="all",
        help="which suite to run (default all)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=128,
        help="batch size of mlp-step, fit and convnet fit (default 128)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="mlp-step: steps per repetition (default: ~1.5 s worth)",
    )
    parser.add_argument(
        "--fit-samples",
        type=int,
        default=None,
        help="fit, convnet: samples per epoch (default 40 batches; 8 with --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for Numba, BLAS and torch (default: ours as configured; torch the same)",
    )
    parser.add_argument("--quick", action="store_true", help="fast smoke run (a few seconds)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write figures here")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    args = parser.parse_args(argv)
    if args.batch < 1 or any(n is not None and n < 1 for n in (args.steps, args.fit_samples)):
        parser.error("--batch, --steps and --fit-samples must be positive")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    return args


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def check_agreement(name: str, runner, reference, losses_ref: list[float]) -> str:
    """Runs two steps and compares losses (and weights after them) with the reference runner."""
    import numpy as np

    losses = [runner(), runner()]
    ok_loss = np.allclose(losses, losses_ref, rtol=1e-4, atol=1e-5)
    diffs = [float(np.max(np.abs(a - b))) for a, b in zip(runner.weights(), reference, strict=True)]
    ok_w = max(diffs) < 1e-4
    status = "ok" if ok_loss and ok_w else "MISMATCH"
    return (
        f"{name}: losses {losses[0]:.6f}, {losses[1]:.6f}; max |weight diff| after 2 steps "
        f"{max(diffs):.2e} -> {status}"
    )


def measure_mlp_step(ctx) -> dict:
    """The mlp-step suite: the raw training step eager, compiled and in PyTorch."""
    import mlp

    batch, args = ctx.batch, ctx.args
    warmup, target_s = ctx.warmup, ctx.target_s
    rows = {}
    notes = []

    # Reference figures (losses and weights after 2 steps), computed eagerly.
    eager = mlp.KerasishStep(batch, compiled=False)
    ref_losses = [eager(), eager()]
    ref_weights = eager.weights()
    notes.append(f"eager reference: losses {ref_losses[0]:.6f}, {ref_losses[1]:.6f}")

    timing = common.time_step(eager, warmup=warmup, steps=args.steps, target_s=target_s)
    rows["eager"] = timing

    try:
        compiled = mlp.KerasishStep(batch, compiled=True)
    except Exception as exc:  # no compiler (yet): report, never crash
        rows["compiled"] = f"n/a (compiler not available: {common.short_error(exc)})"
    else:
        try:
            notes.append(check_agreement("compiled", compiled, ref_weights, ref_losses))
            rows["compiled"] = common.time_step(
                compiled, warmup=warmup, steps=args.steps, target_s=target_s
            )
        except Exception as exc:
            rows["compiled"] = f"n/a (compiled step failed: {common.short_error(exc)})"

    if ctx.torch is not None:
        try:
            torch_step = mlp.TorchStep(batch)
            notes.append(check_agreement("torch", torch_step, ref_weights, ref_losses))
            rows["torch"] = common.time_step(
                torch_step, warmup=warmup, steps=args.steps, target_s=target_s
            )
        except Exception as exc:
            rows["torch"] = f"n/a (torch failed: {common.short_error(exc)})"
    else:
        rows["torch"] = f"n/a ({ctx.torch_reason})"
    return {"rows": rows, "checks": notes}


def report_mlp_step(result: dict, batch: int, peak: dict) -> tuple[list[str], dict]:
    import mlp

    rows = result["rows"]
    flops = mlp.train_flops(batch)
    lines = [
        f"raw training step (ops + GradientTape, fwd + bwd + SGD), batch {batch}",
        f"step FLOPs: {flops / 1e6:.1f} MFLOP (3 x forward, 2 per multiply-add)",
        "",
    ]
    header = (
        f"{'':10s} {'samples/s':>11s} {'ms/step':>9s} {'GFLOP/s':>9s} {'% peak':>7s}  "
        "steps (spread, other load)"
    )
    lines += [header, "-" * len(header)]
    figures = {}
    for name in ("eager", "compiled", "torch"):
        row = rows[name]
        if isinstance(row, str):
            lines.append(f"{name:10s} {row}")
            figures[name] = {"available": False, "reason": row}
            continue
        sps = batch / row["seconds_per_step"]
        gflops = flops / row["seconds_per_step"] / 1e9
        frac = gflops / peak["gflops"]
        spread = max(row["repeat_seconds"]) / min(row["repeat_seconds"]) - 1
        other = _pct(row["other_load"])
        figures[name] = {
            "available": True,
            "samples_per_s": sps,
            "ms_per_step": row["seconds_per_step"] * 1e3,
            "gflops": gflops,
            "fraction_of_matmul_peak": frac,
            **row,
        }
        lines.append(
            f"{name:10s} {sps:11.0f} {row['seconds_per_step'] * 1e3:9.3f} {gflops:9.2f} "
            f"{frac:7.1%}  3 x {row['steps_per_repeat']} ({spread:.0%}, {other})"
        )
    lines.append("")
    ratios = {}
    for name in ("compiled", "eager"):
        key = f"{name}/torch"
        if figures[name]["available"] and figures["torch"]["available"]:
            ratios[key] = figures[name]["samples_per_s"] / figures["torch"]["samples_per_s"]
            lines.append(f"{key:15s} {ratios[key]:.2f}x")
        else:
            ratios[key] = None
            lines.append(f"{key:15s} n/a")
    if figures["compiled"]["available"]:
        ratios["compiled/eager"] = (
            figures["compiled"]["samples_per_s"] / figures["eager"]["samples_per_s"]
        )
        lines.append(f"{'compiled/eager':15s} {ratios['compiled/eager']:.2f}x")
    data = {
        "batch": batch,
        "train_flops_per_step": flops,
        "figures": figures,
        "ratios": ratios,
        "checks": result["checks"],
    }
    return lines, data


def _row_loads(result: dict) -> list[float]:
    return [
        r["other_load"]
        for r in result["rows"].values()
        if isinstance(r, dict) and r.get("other_load") is not None
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    common.apply_thread_env(args.threads)  # before numpy/numba/torch are imported

    import convnet
    import keras_api
    import lstm
    import numpy as np

    started = time.perf_counter()
    threads = common.set_threads(args.threads)
    suites = SUITES if args.suite == "all" else (args.suite,)

    torch_reason = None
    torch = None
    if args.no_torch:
        torch_reason = "skipped: --no-torch"
    else:
        try:
            import torch
        except ImportError:
            torch_reason = "torch not installed"
    if torch is not None:
        torch.set_num_threads(threads)

    if args.quick:
        warmup, target_s, peak_runs = 2, 0.15, 2
    else:
        warmup, target_s, peak_runs = 10, 1.5, 5
    ctx = argparse.Namespace(
        args=args,
        batch=args.batch,
        quick=args.quick,
        fit_samples=args.fit_samples,
        torch=torch,
        torch_reason=torch_reason,
        warmup=warmup,
        target_s=target_s,
    )

    load_before = common.other_load(0.5 if not args.quick else 0.2)
    measured = {}
    for suite in suites:
        if suite == "mlp-step":
            measured[suite] = measure_mlp_step(ctx)
        elif suite == "fit":
            measured[suite] = keras_api.measure_fit(ctx)
        elif suite == "convnet":
            measured[suite] = convnet.measure_convnet(ctx)
        elif suite == "lstm":
            measured[suite] = lstm.measure_lstm(ctx)
        else:
            measured[suite] = keras_api.measure_single(ctx)

    peak = common.matmul_peak(2048, runs=peak_runs)
    load_after = common.other_load(0.5 if not args.quick else 0.2)
    env = common.environment_report(torch.get_num_threads() if torch is not None else None)
    results: dict = {
        "suites": list(suites),
        "threads": threads,
        "matmul_peak": peak,
        "other_load": {"before": load_before, "after": load_after},
        "environment": env,
    }

    # ---- report
    models = [
        m
        for m, on in (
            ("MLP 784-512-512-10", set(suites) - {"convnet", "lstm"}),
            ("MNIST convnet", "convnet" in suites),
            ("LSTM text classifier", "lstm" in suites),
        )
        if on
    ]
    title = f"{' + '.join(models)}, float32, {threads} thread(s): {', '.join(suites)}"
    print(title)
    print("=" * len(title))
    for line in common.format_environment(env):
        print(line)
    during = [x for result in measured.values() for x in _row_loads(result)]
    loads = [x for x in (load_before, load_after, peak["other_load"], *during) if x is not None]
    if loads:
        print(
            "other load (CPU used by other processes; before, after, and the most while "
            f"timing): {' / '.join(_pct(x) for x in (load_before, load_after))}, "
            f"{_pct(max(loads))}"
        )
        warning = common.busy_warning(max(loads))
        if warning:
            print(warning)
    print()
    print(
        f"numpy float32 2048x2048 matmul: {peak['gflops']:.1f} GFLOP/s "
        f"(best of {peak['runs']}, {peak['best_seconds'] * 1e3:.1f} ms)"
    )
    checks = []
    for suite in suites:
        if suite == "mlp-step":
            lines, data = report_mlp_step(measured[suite], args.batch, peak)
        elif suite == "fit":
            lines, data = keras_api.report_fit(measured[suite], peak)
        elif suite == "convnet":
            lines, data = convnet.report_convnet(measured[suite], peak, ctx)
        elif suite == "lstm":
            lines, data = lstm.report_lstm(measured[suite], peak, ctx)
        else:
            lines, data = keras_api.report_single(measured[suite])
        results[suite.replace("-", "_")] = data
        checks += data["checks"]
        print()
        heading = f"[{suite}] {lines[0]}"
        print(heading)
        print("-" * min(len(heading), 100))
        for line in lines[1:]:
            print(line)
    print()
    for note in checks:
        print(f"check: {note}")
    elapsed = time.perf_counter() - started
    print(f"(benchmark took {elapsed:.1f} s)")

    results.update(seconds=elapsed)
    results["argv"] = sys.argv[1:] if argv is None else list(argv)
    results["numpy"] = np.__version__
    if args.json:
        common.write_json(args.json, results)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
