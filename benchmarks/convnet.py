"""The convnet suite: keras.io's "Simple MNIST convnet" on 28x28x1 inputs, ours against PyTorch.

    keras.Sequential([keras.Input((28, 28, 1)),
                      Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                      Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
                      Flatten(), Dropout(0.5), Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy")

PyTorch's equivalent: `nn.Sequential(Conv2d(1, 32, 3), ReLU, MaxPool2d(2), Conv2d(32, 64, 3),
ReLU, MaxPool2d(2), Flatten, Dropout(0.5), Linear(1600, 10))` on NCHW tensors with our initial
weights (a conv weight (out, in, kh, kw) is our kernel (kh, kw, in, out) transposed (3, 2, 0, 1);
the dense weight's rows are permuted from our NHWC flatten order (h, w, c) to torch's NCHW order
(c, h, w)), trained the idiomatic way: logits into `nn.CrossEntropyLoss` (softmax included),
`torch.optim.Adam(lr=1e-3, eps=1e-7)`; predictions are `softmax(model(x))` under
`torch.inference_mode()`.

- fit: samples/s of `model.fit(x, y, batch_size=128, epochs=1, shuffle=True)` over a fixed
  synthetic set (40 batches), median of 3 epochs after a warm-up epoch, against PyTorch's loop
  (`keras_api.TorchFit`: randperm, index, zero_grad, forward, loss, backward, step).
- predict: samples/s of `model.predict(x, batch_size=512)` over 8 batches against PyTorch's
  loop over the same batches of a pre-built NCHW tensor under `inference_mode`.

Before timing, our predictions on a batch are checked against PyTorch's (within 1e-4).
"""

from __future__ import annotations

import time

import common
import keras_api
import numpy as np

INPUT = (28, 28, 1)
FILTERS = (32, 64)
CLASSES = 10
KERNEL = 3
LEARNING_RATE = keras_api.LEARNING_RATE
EPSILON = keras_api.EPSILON
FIT_BATCHES = 40
PREDICT_BATCH = 512
PREDICT_BATCHES = 8
FORWARD_TOLERANCE = 1e-4


def _shapes():
    """(h_out, w_out, c_in, c_out) of each conv, and the flattened size."""
    h, w, c = INPUT
    convs = []
    for filters in FILTERS:
        h, w = h - KERNEL + 1, w - KERNEL + 1
        convs.append((h, w, c, filters))
        h, w, c = h // 2, w // 2, filters
    return convs, (h, w, c)


def forward_flops(samples: int) -> float:
    """Multiply-adds x 2 of the convolutions and the dense layer (pooling, relu not counted)."""
    convs, (h, w, c) = _shapes()
    per = sum(2.0 * ho * wo * KERNEL * KERNEL * ci * co for ho, wo, ci, co in convs)
    per += 2.0 * h * w * c * CLASSES
    return per * samples


def train_flops(samples: int) -> float:
    return 3.0 * forward_flops(samples)


def keras_model(seed: int = 0):
    """The compiled kerasish convnet; its initial weights come from `set_random_seed(seed)`."""
    import kerasish as keras

    layers = keras.layers
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(INPUT),
            layers.Conv2D(FILTERS[0], kernel_size=(KERNEL, KERNEL), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(FILTERS[1], kernel_size=(KERNEL, KERNEL), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
        loss="sparse_categorical_crossentropy",
    )
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same convnet (NCHW) holding `weights` (our layout, from `get_weights()`)."""
    import torch
    from torch import nn

    _, (h, w, c) = _shapes()
    model = nn.Sequential(
        nn.Conv2d(INPUT[2], FILTERS[0], KERNEL),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(FILTERS[0], FILTERS[1], KERNEL),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(h * w * c, CLASSES),
    )
    k1, b1, k2, b2, kd, bd = weights
    dense = kd.reshape(h, w, c, CLASSES).transpose(2, 0, 1, 3).reshape(h * w * c, CLASSES)
    pairs = ((model[0], k1.transpose(3, 2, 0, 1), b1), (model[3], k2.transpose(3, 2, 0, 1), b2))
    pairs += ((model[8], dense.T, bd),)
    with torch.no_grad():
        for module, weight, bias in pairs:
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            module.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return model


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic images: x float32 (samples, 28, 28, 1) uniform [0, 1), y int32 in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.random((samples, *INPUT), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=samples).astype(np.int32)
    return x, y


def nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def measure_convnet(ctx) -> dict:
    batch = ctx.batch
    samples = ctx.fit_samples or batch * (8 if ctx.quick else FIT_BATCHES)
    predict_n = PREDICT_BATCH * (2 if ctx.quick else PREDICT_BATCHES)
    x, y = dataset(samples)
    xp, _ = dataset(predict_n, seed=2)
    result: dict = {
        "batch": batch,
        "samples": samples,
        "predict_batch": PREDICT_BATCH,
        "predict_samples": predict_n,
        "rows": {},
        "checks": [],
    }
    rows = result["rows"]
    torch = ctx.torch

    model = None
    try:
        model = keras_model()
        weights = model.get_weights()
    except Exception as exc:
        rows["fit"] = rows["predict"] = f"n/a (model failed: {common.short_error(exc)})"

    tmodel = None
    if torch is not None and model is not None:
        try:
            tmodel = torch_model(weights)
            with torch.inference_mode():
                ref = torch.softmax(tmodel.eval()(torch.from_numpy(nchw(xp[:PREDICT_BATCH]))), 1)
            ours = model.predict(xp[:PREDICT_BATCH], batch_size=PREDICT_BATCH, verbose=0)
            line, _ = keras_api.check_forward(
                f"convnet predict on ({PREDICT_BATCH}, 28, 28, 1)", ours, ref.numpy()
            )
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
                model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)

            t0 = time.perf_counter()
            fit()  # warm-up epoch: traces and compiles the train step
            result["warmup_seconds"] = time.perf_counter() - t0
            rows["fit"] = keras_api.time_repeats(fit)
        except Exception as exc:
            rows["fit"] = f"n/a (model.fit failed: {common.short_error(exc)})"
        try:

            def predict():
                model.predict(xp, batch_size=PREDICT_BATCH, verbose=0)

            predict()  # warm-up (the predict step for the full batch)
            rows["predict"] = keras_api.time_repeats(predict)
        except Exception as exc:
            rows["predict"] = f"n/a (model.predict failed: {common.short_error(exc)})"

    if tmodel is not None:
        try:
            loop = keras_api.TorchFit(torch_model(weights), nchw(x), y, batch)
            loop.epoch()  # warm-up
            rows["torch fit"] = keras_api.time_repeats(loop.epoch)
        except Exception as exc:
            rows["torch fit"] = f"n/a (torch failed: {common.short_error(exc)})"
        try:
            tmodel.eval()
            txp = torch.from_numpy(nchw(xp))

            def torch_predict():
                with torch.inference_mode():
                    outs = [
                        torch.softmax(tmodel(txp[i : i + PREDICT_BATCH]), 1)
                        for i in range(0, predict_n, PREDICT_BATCH)
                    ]
                    return torch.cat(outs).numpy()

            torch_predict()
            rows["torch predict"] = keras_api.time_repeats(torch_predict)
        except Exception as exc:
            rows["torch predict"] = f"n/a (torch failed: {common.short_error(exc)})"
    return result


def report_convnet(result: dict, peak: dict) -> tuple[list[str], dict]:
    batch, samples = result["batch"], result["samples"]
    pbatch, psamples = result["predict_batch"], result["predict_samples"]
    work = {
        "fit": (samples, train_flops(samples)),
        "torch fit": (samples, train_flops(samples)),
        "predict": (psamples, forward_flops(psamples)),
        "torch predict": (psamples, forward_flops(psamples)),
    }
    lines = [
        "keras.io MNIST convnet (Conv 32 -> pool -> Conv 64 -> pool -> Dropout -> Dense 10), "
        "28x28x1 float32",
        f"fit: 1 epoch of {samples} samples (batch {batch}), Adam, shuffle=True, "
        f"{train_flops(samples) / 1e9:.2f} GFLOP (3 x forward); predict: {psamples} samples "
        f"(batch {pbatch}), {forward_flops(psamples) / 1e9:.2f} GFLOP",
        f"forward FLOPs per sample: {forward_flops(1) / 1e6:.2f} MFLOP; median of 3 runs after "
        "a warm-up run",
        "",
    ]
    header = (
        f"{'':14s} {'samples/s':>11s} {'ms/run':>9s} {'GFLOP/s':>9s} {'% peak':>7s}  "
        "(spread, other load)"
    )
    lines += [header, "-" * len(header)]
    figures = {}
    for name in ("fit", "torch fit", "predict", "torch predict"):
        row = result["rows"].get(name, "n/a (not run)")
        if isinstance(row, str):
            lines.append(f"{name:14s} {row}")
            figures[name] = {"available": False, "reason": row}
            continue
        n, flops = work[name]
        sec = row["median_seconds"]
        gflops = flops / sec / 1e9
        frac = gflops / peak["gflops"]
        spread = max(row["repeat_seconds"]) / min(row["repeat_seconds"]) - 1
        figures[name] = {
            "available": True,
            "samples_per_s": n / sec,
            "gflops": gflops,
            "fraction_of_matmul_peak": frac,
            **row,
        }
        lines.append(
            f"{name:14s} {n / sec:11.0f} {sec * 1e3:9.1f} {gflops:9.2f} {frac:7.1%}  "
            f"({spread:.0%}, {keras_api.common_pct(row['other_load'])})"
        )
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
        "forward_flops_per_sample": forward_flops(1),
        "warmup_seconds": result.get("warmup_seconds"),
        "figures": figures,
        "ratios": ratios,
        "checks": result["checks"],
    }
    return lines, data
