"""Timing and reporting a model's `fit` and `predict` beside PyTorch's equivalent loops.

A suite (convnet.py, lstm.py) describes its model as a `Workload`: the compiled kerasish
model, PyTorch's copy holding the same weights, the synthetic data, how torch takes the inputs
and reads the outputs, and the FLOPs per sample. `measure(ctx, workload)` checks that the two
models predict the same on a batch, then times four rows: `fit`, `torch fit` (one epoch each,
median of 3 after a warm-up epoch) and `predict`, `torch predict`; `report(...)` turns them
into table lines and JSON figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import common
import keras_api
import numpy as np

ROWS = ("fit", "torch fit", "predict", "torch predict")


@dataclass
class Workload:
    name: str  # names the predict check, e.g. "convnet predict on (512, 28, 28, 1)"
    batch: int
    samples: int
    predict_batch: int
    predict_samples: int
    keras_model: Callable  # () -> compiled kerasish model
    torch_model: Callable  # (weights in our layout) -> torch module
    dataset: Callable  # (samples, seed) -> (x, y) numpy arrays
    forward_flops: Callable  # (samples) -> FLOPs of a forward pass
    torch_input: Callable = np.asarray  # our x -> the numpy array torch's model takes
    torch_output: Callable | None = None  # (torch, logits) -> what our predict returns
    binary: bool = False  # torch's fit: one logit per sample, BCEWithLogitsLoss

    def train_flops(self, samples: int) -> float:
        return 3.0 * self.forward_flops(samples)


def measure(ctx, work: Workload) -> dict:
    x, y = work.dataset(work.samples, 1)
    xp, _ = work.dataset(work.predict_samples, 2)
    result: dict = {
        "batch": work.batch,
        "samples": work.samples,
        "predict_batch": work.predict_batch,
        "predict_samples": work.predict_samples,
        "rows": {},
        "checks": [],
    }
    rows = result["rows"]
    torch = ctx.torch

    model = None
    try:
        model = work.keras_model()
        weights = model.get_weights()
    except Exception as exc:
        rows["fit"] = rows["predict"] = f"n/a (model failed: {common.short_error(exc)})"

    def torch_predict_batches(module, inputs):
        outs = []
        with torch.inference_mode():
            for i in range(0, len(inputs), work.predict_batch):
                out = module(inputs[i : i + work.predict_batch])
                outs.append(work.torch_output(torch, out) if work.torch_output else out)
            return torch.cat(outs).numpy()

    tmodel = None
    if torch is not None and model is not None:
        try:
            tmodel = work.torch_model(weights).eval()
            first = xp[: work.predict_batch]
            ref = torch_predict_batches(tmodel, torch.from_numpy(work.torch_input(first)))
            ours = model.predict(first, batch_size=work.predict_batch, verbose=0)
            line, _ = keras_api.check_forward(work.name, ours, ref)
            result["checks"].append(line)
        except Exception as exc:
            rows["torch fit"] = rows["torch predict"] = (
                f"n/a (torch failed: {common.short_error(exc)})"
            )
            tmodel = None
    elif torch is None:
        rows["torch fit"] = rows["torch predict"] = f"n/a ({ctx.torch_reason})"

    if model is not None:
        try:

            def fit():
                model.fit(x, y, batch_size=work.batch, epochs=1, verbose=0, shuffle=True)

            t0 = time.perf_counter()
            fit()  # warm-up epoch: traces and compiles the train step
            result["warmup_seconds"] = time.perf_counter() - t0
            rows["fit"] = keras_api.time_repeats(fit)
        except Exception as exc:
            rows["fit"] = f"n/a (model.fit failed: {common.short_error(exc)})"
        try:

            def predict():
                model.predict(xp, batch_size=work.predict_batch, verbose=0)

            predict()  # warm-up (the predict step for the full batch)
            rows["predict"] = keras_api.time_repeats(predict)
        except Exception as exc:
            rows["predict"] = f"n/a (model.predict failed: {common.short_error(exc)})"

    if tmodel is not None:
        try:
            loop = keras_api.TorchFit(
                work.torch_model(weights), work.torch_input(x), y, work.batch, binary=work.binary
            )
            loop.epoch()  # warm-up
            rows["torch fit"] = keras_api.time_repeats(loop.epoch)
        except Exception as exc:
            rows["torch fit"] = f"n/a (torch failed: {common.short_error(exc)})"
        try:
            txp = torch.from_numpy(work.torch_input(xp))
            torch_predict_batches(tmodel, txp)  # warm-up
            rows["torch predict"] = keras_api.time_repeats(
                lambda: torch_predict_batches(tmodel, txp)
            )
        except Exception as exc:
            rows["torch predict"] = f"n/a (torch failed: {common.short_error(exc)})"
    return result


def report(result: dict, peak: dict, work: Workload, title: str) -> tuple[list[str], dict]:
    """The suite's lines (the `title` first, then what ran, a table of samples/s, GFLOP/s and
    fraction of the matmul peak, then the ours/torch ratios) and its figures for the JSON."""
    batch, samples = result["batch"], result["samples"]
    pbatch, psamples = result["predict_batch"], result["predict_samples"]
    train, forward = work.train_flops(samples), work.forward_flops(psamples)
    lines = [
        title,
        f"fit: 1 epoch of {samples} samples (batch {batch}), shuffle=True, "
        f"{train / 1e9:.2f} GFLOP (3 x forward); predict: {psamples} samples "
        f"(batch {pbatch}), {forward / 1e9:.2f} GFLOP",
        f"forward FLOPs per sample: {work.forward_flops(1) / 1e6:.2f} MFLOP; median of 3 runs "
        "after a warm-up run",
        "",
    ]
    header = (
        f"{'':14s} {'samples/s':>11s} {'ms/run':>9s} {'GFLOP/s':>9s} {'% peak':>7s}  "
        "(spread, other load)"
    )
    lines += [header, "-" * len(header)]
    work_of = {"fit": (samples, train), "predict": (psamples, forward)}
    figures = {}
    for name in ROWS:
        row = result["rows"].get(name, "n/a (not run)")
        n, flops = work_of[name.removeprefix("torch ")]
        figures[name], line = keras_api.figure_row(name, row, n, flops, peak, width=14)
        lines.append(line)
    if "warmup_seconds" in result:
        lines.append(f"(fit's warm-up epoch, compile included: {result['warmup_seconds']:.2f} s)")
    lines.append("")
    ratios = {}
    for name in ("fit", "predict"):
        key = f"{name}/torch"
        ours, theirs = figures[name], figures[f"torch {name}"]
        if ours["available"] and theirs["available"]:
            ratios[key] = ours["samples_per_s"] / theirs["samples_per_s"]
            lines.append(f"{key:24s} {ratios[key]:.2f}x")
        else:
            ratios[key] = None
            lines.append(f"{key:24s} n/a")
    data = {
        "batch": batch,
        "samples": samples,
        "predict_batch": pbatch,
        "predict_samples": psamples,
        "forward_flops_per_sample": work.forward_flops(1),
        "warmup_seconds": result.get("warmup_seconds"),
        "figures": figures,
        "ratios": ratios,
        "checks": result["checks"],
    }
    return lines, data
