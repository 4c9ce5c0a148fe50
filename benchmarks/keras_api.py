"""The Keras-API workloads: `model.fit`, and single-sample `model(x)` / `predict_on_batch`.

The model is the suite's 784-512-512-10 MLP (`mlp.LAYERS`) built the Keras way:

    keras.Sequential([keras.Input((784,)), Dense(512, "relu"), Dense(512, "relu"), Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

and PyTorch's equivalent: an `nn.Sequential` of three `nn.Linear` with the same initial weights
(a torch Linear's weight is the transpose of our kernel), `torch.optim.Adam(lr=1e-3, eps=1e-7)`
(Keras' epsilon; the timed loop keeps it fixed, the agreement check adjusts it per step so the
two Adams take identical steps) and `nn.CrossEntropyLoss`.

- fit: samples/s of `model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=True)` over
  a fixed synthetic data set, one epoch per repetition after an untimed warm-up epoch (which
  traces and compiles the train step); against PyTorch's loop: a fresh `randperm` each epoch,
  minibatches of 128 indexed out of pre-built tensors, `zero_grad(set_to_none=True)`, forward,
  loss, backward, `step()`, the epoch's mean loss read at its end.
- single: calls/s of `model(x1)` and `model.predict_on_batch(x1)` on one (1, 784) float32
  numpy sample; against PyTorch's `model(x1)` under `torch.inference_mode()` on a pre-built
  (1, 784) tensor.

Before anything is timed the models are checked against PyTorch: the forward pass on a batch
and on the single sample (within 1e-4), and two Adam steps through `fit` (losses, weights).
"""

from __future__ import annotations

import statistics
import time

import common
import mlp
import numpy as np

LEARNING_RATE = 1e-3
EPSILON = 1e-7  # Keras' Adam default (PyTorch's is 1e-8)
FIT_BATCHES = 40  # samples per fit repetition = batch * FIT_BATCHES
FORWARD_TOLERANCE = 1e-4
ADAM_WEIGHT_TOLERANCE = 1e-5

TARGETS = {"fit/torch": 1.3, "model(x)/torch": 1.5, "predict_on_batch/torch": 1.5}


# --------------------------------------------------------------------------------------------
# Models and data


def keras_model(seed: int = 0):
    """The compiled kerasish MLP with `mlp.initial_weights(seed)`."""
    import kerasish as keras

    *hidden, out = mlp.LAYERS[1:]
    model = keras.Sequential(
        [
            keras.Input((mlp.LAYERS[0],)),
            *(keras.layers.Dense(units, activation="relu") for units in hidden),
            keras.layers.Dense(out),
        ]
    )
    model.set_weights(mlp.initial_weights(seed))
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def torch_model(seed: int = 0):
    """PyTorch's same MLP (nn.Sequential of nn.Linear and nn.ReLU) with the same weights."""
    import torch
    from torch import nn

    weights = mlp.initial_weights(seed)
    modules = []
    for i, (fan_in, fan_out) in enumerate(zip(mlp.LAYERS, mlp.LAYERS[1:], strict=False)):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weights[2 * i].T.copy()))
            linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
        modules.append(linear)
        if i < len(mlp.LAYERS) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def torch_weights(model) -> list[np.ndarray]:
    """A torch model's weights in our layout: kernels (in, out), then biases."""
    from torch import nn

    out = []
    for linear in (m for m in model if isinstance(m, nn.Linear)):
        out.append(linear.weight.detach().numpy().T.copy())
        out.append(linear.bias.detach().numpy().copy())
    return out


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic data: x float32 (samples, 784) standard normal, y int32 labels in [0, 10)."""
    return mlp.batch_data(samples, seed=seed)


class TorchFit:
    """PyTorch's equivalent of `model.fit(x, y, batch_size, epochs=1, shuffle=...)`."""

    def __init__(
        self,
        model,
        x: np.ndarray,
        y: np.ndarray,
        batch: int,
        *,
        seed: int = 0,
        keras_epsilon: bool = False,
        binary: bool = False,
    ):
        """`keras_epsilon=True` (the agreement check only, never timed) makes torch's Adam step
        exactly Keras': Keras adds epsilon to sqrt(v) before the bias correction, PyTorch after
        it, so each step sets torch's eps to epsilon / sqrt(1 - beta_2**t). `binary=True`
        trains one logit per sample against float 0/1 labels (`BCEWithLogitsLoss`) instead of
        class logits against integer labels (`CrossEntropyLoss`)."""
        import torch

        self.torch = torch
        self.model = model
        self.batch = batch
        self.x = torch.from_numpy(x)
        if binary:
            self.y = torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
            self.loss_fn = torch.nn.BCEWithLogitsLoss()
        else:
            self.y = torch.from_numpy(y.astype(np.int64))
            self.loss_fn = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=EPSILON)
        self.generator = torch.Generator().manual_seed(seed)
        self.keras_epsilon = keras_epsilon
        self.steps_done = 0

    def epoch(self, shuffle: bool = True) -> float:
        """One epoch; returns the mean of its batch losses (as Keras' History does)."""
        torch = self.torch
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        total = torch.zeros(())
        steps = 0
        self.model.train()
        for start in range(0, n, self.batch):
            index = order[start : start + self.batch]
            xb, yb = self.x[index], self.y[index]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            if self.keras_epsilon:
                self.steps_done += 1
                group = self.optimizer.param_groups[0]
                group["eps"] = EPSILON / (1 - group["betas"][1] ** self.steps_done) ** 0.5
            self.optimizer.step()
            total += loss.detach()
            steps += 1
        return float(total) / steps


# --------------------------------------------------------------------------------------------
# Checks (run before timing)


def check_forward(name: str, ours: np.ndarray, theirs: np.ndarray) -> tuple[str, bool]:
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float32) - theirs)))
    ok = diff < FORWARD_TOLERANCE and ours.shape == theirs.shape
    return f"{name}: max |output diff| vs torch {diff:.2e} -> {'ok' if ok else 'MISMATCH'}", ok


def check_fit(batch: int, torch) -> str:
    """Two Adam steps through `fit` (shuffle=False) against the torch loop, same data."""
    x, y = dataset(2 * batch)
    model = keras_model()
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    ours = float(history.history["loss"][0])
    tmodel = torch_model()
    theirs = TorchFit(tmodel, x, y, batch, keras_epsilon=True).epoch(shuffle=False)
    diffs = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(model.get_weights(), torch_weights(tmodel), strict=True)
    ]
    ok = np.isclose(ours, theirs, rtol=1e-4, atol=1e-5) and max(diffs) < ADAM_WEIGHT_TOLERANCE
    return (
        f"fit (2 Adam steps, shuffle=False): mean loss {ours:.6f} vs torch {theirs:.6f}; "
        f"max |weight diff| {max(diffs):.2e} -> {'ok' if ok else 'MISMATCH'}"
    )


# --------------------------------------------------------------------------------------------
# Timing


def time_repeats(fn, repeats: int = 3) -> dict:
    """Times `fn()` `repeats` times; the median repetition and the other processes' CPU load."""
    times = []
    meter = common.LoadMeter()
    meter.start()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "other_load": meter.stop(),
        "repeat_seconds": times,
        "median_seconds": statistics.median(times),
    }


def figure_row(name: str, row, samples: int, flops: float, peak: dict, width: int):
    """One timed row as (figures, table line): samples/s, ms per run, GFLOP/s, the fraction
    of the matmul peak, the spread of the repeats and the other processes' load. `row` is a
    `time_repeats` result, or a string saying why the row is not available."""
    if isinstance(row, str):
        return {"available": False, "reason": row}, f"{name:{width}s} {row}"
    sec = row["median_seconds"]
    gflops = flops / sec / 1e9
    frac = gflops / peak["gflops"]
    spread = max(row["repeat_seconds"]) / min(row["repeat_seconds"]) - 1
    figures = {
        "available": True,
        "samples_per_s": samples / sec,
        "gflops": gflops,
        "fraction_of_matmul_peak": frac,
        **row,
    }
    line = (
        f"{name:{width}s} {samples / sec:11.0f} {sec * 1e3:9.1f} {gflops:9.2f} {frac:7.1%}  "
        f"({spread:.0%}, {common_pct(row['other_load'])})"
    )
    return figures, line


def measure_fit(ctx) -> dict:
    """The fit suite: kerasish `model.fit` and PyTorch's loop, samples/s over one epoch."""
    batch = ctx.batch
    samples = ctx.fit_samples or batch * (8 if ctx.quick else FIT_BATCHES)
    x, y = dataset(samples)
    result: dict = {"batch": batch, "samples": samples, "rows": {}, "checks": []}
    rows = result["rows"]

    try:
        model = keras_model()
        if ctx.torch is not None:
            result["checks"].append(check_fit(batch, ctx.torch))
        fit = lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)  # noqa: E731
        t0 = time.perf_counter()
        fit()  # warm-up epoch: traces and compiles the train step
        result["warmup_seconds"] = time.perf_counter() - t0
        rows["fit"] = time_repeats(fit)
    except Exception as exc:
        rows["fit"] = f"n/a (model.fit failed: {common.short_error(exc)})"

    if ctx.torch is not None:
        try:
            loop = TorchFit(torch_model(), x, y, batch)
            loop.epoch()  # warm-up
            rows["torch"] = time_repeats(loop.epoch)
        except Exception as exc:
            rows["torch"] = f"n/a (torch failed: {common.short_error(exc)})"
    else:
        rows["torch"] = f"n/a ({ctx.torch_reason})"
    return result


def measure_single(ctx) -> dict:
    """The single-sample suite: calls/s of model(x1), predict_on_batch(x1), torch model(x1)."""
    x, _ = dataset(ctx.batch, seed=2)
    x1 = np.ascontiguousarray(x[:1])
    result: dict = {"rows": {}, "checks": []}
    rows = result["rows"]
    warmup, target_s = (20, 0.15) if ctx.quick else (200, 1.0)

    try:
        model = keras_model()
    except Exception as exc:
        reason = f"n/a (model failed: {common.short_error(exc)})"
        rows["model(x)"] = rows["predict_on_batch"] = reason
        model = None

    tmodel = None
    if ctx.torch is not None:
        try:
            tmodel = torch_model().eval()
            tx1 = ctx.torch.from_numpy(x1)
            with ctx.torch.inference_mode():
                ref_batch = tmodel(ctx.torch.from_numpy(x)).numpy()
                ref_single = tmodel(tx1).numpy()
        except Exception as exc:
            rows["torch"] = f"n/a (torch failed: {common.short_error(exc)})"
            tmodel = None
    else:
        rows["torch"] = f"n/a ({ctx.torch_reason})"

    if model is not None:
        calls = {
            "model(x)": lambda: model(x1),
            "predict_on_batch": lambda: model.predict_on_batch(x1),
        }
        for name, call in calls.items():
            try:
                if tmodel is not None:
                    single = np.asarray(call())
                    line, _ = check_forward(f"{name} on (1, 784)", single, ref_single)
                    result["checks"].append(line)
                    if name == "predict_on_batch":
                        batch_out = model.predict_on_batch(x)
                        line, _ = check_forward(f"{name} on {x.shape}", batch_out, ref_batch)
                        result["checks"].append(line)
                rows[name] = common.time_step(call, warmup=warmup, steps=None, target_s=target_s)
            except Exception as exc:
                rows[name] = f"n/a ({name} failed: {common.short_error(exc)})"

    if tmodel is not None:
        torch = ctx.torch

        def torch_call():
            with torch.inference_mode():
                return tmodel(tx1)

        try:
            rows["torch"] = common.time_step(
                torch_call, warmup=warmup, steps=None, target_s=target_s
            )
        except Exception as exc:
            rows["torch"] = f"n/a (torch failed: {common.short_error(exc)})"
    return result


# --------------------------------------------------------------------------------------------
# Reports


def _target(key: str, ratio: float) -> str:
    goal = TARGETS.get(key)
    if goal is None:
        return ""
    return f"  (target >= {goal:.1f}x: {'met' if ratio >= goal else 'NOT met'})"


def report_fit(result: dict, peak: dict) -> tuple[list[str], dict]:
    batch, samples = result["batch"], result["samples"]
    flops = mlp.train_flops(samples)  # linear in the batch: 3 x forward for every sample
    lines = [
        f"model.fit, 1 epoch of {samples} samples (batch {batch}, {samples // batch} steps"
        f"{' + 1 partial' if samples % batch else ''}), Adam, shuffle=True, vs PyTorch's loop",
        f"epoch FLOPs: {flops / 1e9:.2f} GFLOP (3 x forward); median of 3 epochs after a "
        "warm-up epoch",
        "",
    ]
    header = (
        f"{'':10s} {'samples/s':>11s} {'ms/epoch':>9s} {'GFLOP/s':>9s} {'% peak':>7s}  "
        "(spread, other load)"
    )
    lines += [header, "-" * len(header)]
    figures = {}
    for name in ("fit", "torch"):
        figures[name], line = figure_row(name, result["rows"][name], samples, flops, peak, 10)
        lines.append(line)
    if "warmup_seconds" in result:
        lines.append(f"(fit's warm-up epoch, compile included: {result['warmup_seconds']:.2f} s)")
    lines.append("")
    ratios = {}
    if figures["fit"]["available"] and figures["torch"]["available"]:
        ratios["fit/torch"] = figures["fit"]["samples_per_s"] / figures["torch"]["samples_per_s"]
        ratio = ratios["fit/torch"]
        lines.append(f"{'fit/torch':24s} {ratio:.2f}x{_target('fit/torch', ratio)}")
    else:
        ratios["fit/torch"] = None
        lines.append(f"{'fit/torch':24s} n/a")
    data = {
        "batch": batch,
        "samples": samples,
        "flops_per_epoch": flops,
        "warmup_seconds": result.get("warmup_seconds"),
        "figures": figures,
        "ratios": ratios,
        "checks": result["checks"],
    }
    return lines, data


def report_single(result: dict) -> tuple[list[str], dict]:
    lines = [
        "single-sample inference on one (1, 784) float32 sample, calls/s",
        "model(x): numpy in, Tensor out; predict_on_batch: numpy in and out; torch: model(x) "
        "on a tensor under inference_mode",
        "median of 3 runs of N calls (~1 s each) after a warm-up",
        "",
    ]
    header = f"{'':18s} {'calls/s':>10s} {'us/call':>9s}  calls (spread, other load)"
    lines += [header, "-" * len(header)]
    figures = {}
    for name in ("model(x)", "predict_on_batch", "torch"):
        row = result["rows"].get(name, "n/a (not run)")
        if isinstance(row, str):
            lines.append(f"{name:18s} {row}")
            figures[name] = {"available": False, "reason": row}
            continue
        per = row["seconds_per_step"]
        spread = max(row["repeat_seconds"]) / min(row["repeat_seconds"]) - 1
        figures[name] = {"available": True, "calls_per_s": 1 / per, "us_per_call": per * 1e6, **row}
        lines.append(
            f"{name:18s} {1 / per:10.0f} {per * 1e6:9.1f}  3 x {row['steps_per_repeat']} "
            f"({spread:.0%}, {common_pct(row['other_load'])})"
        )
    lines.append("")
    ratios = {}
    for name in ("model(x)", "predict_on_batch"):
        key = f"{name}/torch"
        if figures[name]["available"] and figures["torch"]["available"]:
            ratios[key] = figures[name]["calls_per_s"] / figures["torch"]["calls_per_s"]
            lines.append(f"{key:24s} {ratios[key]:.2f}x{_target(key, ratios[key])}")
        else:
            ratios[key] = None
            lines.append(f"{key:24s} n/a")
    return lines, {"figures": figures, "ratios": ratios, "checks": result["checks"]}


def common_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"
