"""Record golden values for embeddings, masking and masked losses from real Keras 3.

Run it in the keras venv (never a kerasish dependency); see README.md next to this file:

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tools/keras_goldens/record_embedding.py \
        --out tests/fixtures/keras_goldens

Four small models get INITIAL WEIGHTS MADE WITH NUMPY (`init_weights`, by each weight's
shape) through `set_weights`; the script records `predict`, a few `train_on_batch` results
(loss and metrics; and `test_on_batch` on the same weights just before) with every weight
after each step, and for one case a `fit` history:

- `emb_pool`: Embedding(mask_zero=True) on a float32 `Input` -> GlobalAveragePooling1D (the
  masked mean) -> Dense; SGD, sparse crossentropy from logits; also `fit` for two epochs.
- `emb_steps`: Embedding(mask_zero=True) on an int32 `Input` -> Dense on every step; Adam,
  SparseCategoricalCrossentropy over (batch, steps) labels with "accuracy": Keras weighs the
  padded steps by zero in the loss and (see `run_case`) the metric. Also the standalone loss
  of `model(x)`.
- `masking`: Masking -> Dense(tanh) -> GlobalAveragePooling1D on float input with whole
  steps equal to the mask value; SGD with momentum, mse.
- `two_inputs`: two token inputs, each Embedding(mask_zero=True), merged with
  `layers.add` (the OR of the masks) and `layers.concatenate`, then pooled and classified.

Output: `embedding.npz` (arrays `<case>/<name>`) and `embedding.json` (per case: the
builder's source, layer names and classes, weight paths and shapes in `get_weights()` order,
the results as floats). Byte-for-byte deterministic: the npz is written with sorted keys and
a fixed zip timestamp, the JSON with sorted keys.
"""

import inspect
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from golden_io import record  # noqa: E402
from keras import layers  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"record_embedding.py needs KERAS_BACKEND=jax, got {keras.backend.backend()!r}")

VOCAB, STEPS = 12, 6


# ---------------------------------------------------------------- helpers


def init_weights(specs, seed):
    """Initial weights from numpy only, drawn in order from `np.random.default_rng(seed)`:
    a weight with 2+ dims uniform in +-sqrt(6 / (fan_in + fan_out)) (fan_in =
    prod(shape[:-1]), fan_out = shape[-1]), any 1-D weight normal * 0.1."""
    rng = np.random.default_rng(seed)
    out = []
    for _, shape in specs:
        shape = tuple(shape)
        if len(shape) >= 2:
            limit = np.sqrt(6.0 / (int(np.prod(shape[:-1])) + shape[-1]))
            w = rng.uniform(-limit, limit, size=shape)
        else:
            w = rng.normal(size=shape) * 0.1
        out.append(np.asarray(w, dtype=np.float32))
    return out


def padded_tokens(rng, batch):
    """(batch, STEPS) token ids in [1, VOCAB), each row padded with zeros after a length of
    1..STEPS (no row is all padding: its masked mean would be 0 / 0)."""
    lengths = rng.integers(1, STEPS + 1, size=batch)
    tokens = rng.integers(1, VOCAB, size=(batch, STEPS))
    return np.where(np.arange(STEPS) < lengths[:, None], tokens, 0)


def fresh():
    """Reset Keras' global name counters, so automatic names match a fresh process."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def floats(values):
    return [float(np.float32(v)) for v in np.ravel(values)]


def model_info(model):
    return {
        "layers": [layer.name for layer in model.layers],
        "layer_classes": [type(layer).__name__ for layer in model.layers],
        "weights": [
            {"path": w.path, "shape": list(w.shape), "trainable": w.trainable}
            for w in model.weights
        ],
    }


def weight_dict(model, prefix):
    return {f"{prefix}_w{i}": np.asarray(w, np.float32) for i, w in enumerate(model.get_weights())}


# ---------------------------------------------------------------- models


def model_emb_pool():
    return keras.Sequential(
        [
            keras.Input((STEPS,)),  # float32, as Keras' default Input
            layers.Embedding(VOCAB, 4, mask_zero=True),
            layers.GlobalAveragePooling1D(),
            layers.Dense(3),
        ]
    )


def model_emb_steps():
    return keras.Sequential(
        [
            keras.Input((STEPS,), dtype="int32"),
            layers.Embedding(VOCAB, 5, mask_zero=True),
            layers.Dense(4),
        ]
    )


def model_masking():
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.Masking(mask_value=0.0),
            layers.Dense(4, activation="tanh"),
            layers.GlobalAveragePooling1D(),
        ]
    )


def model_two_inputs():
    left = keras.Input((STEPS,), dtype="int32", name="left")
    right = keras.Input((STEPS,), dtype="int32", name="right")
    a = layers.Embedding(VOCAB, 4, mask_zero=True, name="emb_left")(left)
    b = layers.Embedding(VOCAB, 4, mask_zero=True, name="emb_right")(right)
    summed = layers.add([a, b], name="sum")  # a step is kept when either input keeps it
    both = layers.concatenate([summed, layers.Dense(2, name="proj")(a)], name="joined")
    pooled = layers.GlobalAveragePooling1D(name="pool")(both)
    return keras.Model([left, right], layers.Dense(3, name="out")(pooled))


# ---------------------------------------------------------------- data per case


def data_emb_pool(rng):
    x = padded_tokens(rng, 10).astype(np.float32)
    return x, rng.integers(0, 3, size=(10,)).astype(np.int32)


def data_emb_steps(rng):
    x = padded_tokens(rng, 5).astype(np.int32)
    return x, rng.integers(0, 4, size=(5, STEPS)).astype(np.int32)


def data_masking(rng):
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    x[0, 1] = 0.0
    x[0, 4] = 0.0
    x[2, :3] = 0.0
    x[3, 2, 1] = 0.0  # one feature only: the step is kept
    return x, rng.normal(size=(4, 4)).astype(np.float32)


def data_two_inputs(rng):
    left = padded_tokens(rng, 6).astype(np.int32)
    right = padded_tokens(rng, 6).astype(np.int32)
    return [left, right], rng.integers(0, 3, size=(6,)).astype(np.int32)


# case: builder, data maker, seed, optimizer factory, loss factory, metrics, steps, fit
CASES = {
    "emb_pool": (
        model_emb_pool,
        data_emb_pool,
        21,
        lambda: keras.optimizers.SGD(learning_rate=0.5),
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        None,
        3,
        {"batch_size": 4, "epochs": 2},
    ),
    "emb_steps": (
        model_emb_steps,
        data_emb_steps,
        22,
        lambda: keras.optimizers.Adam(learning_rate=0.05),
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ["accuracy"],
        3,
        None,
    ),
    "masking": (
        model_masking,
        data_masking,
        23,
        lambda: keras.optimizers.SGD(learning_rate=0.2, momentum=0.9),
        lambda: "mse",
        None,
        3,
        None,
    ),
    "two_inputs": (
        model_two_inputs,
        data_two_inputs,
        24,
        lambda: keras.optimizers.SGD(learning_rate=0.5),
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ["accuracy"],
        2,
        None,
    ),
}


def run_case(name):
    """Build, set numpy weights, predict, train_on_batch steps (and fit, from the same
    initial weights, for the case that has it)."""
    builder, make_data, seed, make_opt, make_loss, metrics, steps, fit = CASES[name]
    fresh()
    rng = np.random.default_rng(2000 + seed)
    x, y = make_data(rng)
    model = builder()
    init = init_weights([(w.path, tuple(w.shape)) for w in model.weights], seed)
    model.set_weights(init)
    arrays = {"y": y, **weight_dict(model, "init")}
    inputs = x if isinstance(x, list) else [x]
    for i, part in enumerate(inputs):
        arrays[f"x{i}"] = part
    arrays["predict"] = model.predict(x, verbose=0)
    info = {"seed": seed, "n_inputs": len(inputs), "n_weights": len(init)}
    if name == "emb_steps":
        # The standalone loss reads the mask model(x) carries, as the compiled one does.
        out = model(x)
        info["output_mask"] = np.asarray(out._keras_mask).astype(int).tolist()
        info["standalone_loss"] = float(make_loss()(y, out))
        per_step = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        info["unmasked_mean_loss"] = float(np.mean(per_step(y, np.asarray(out))))
    model.compile(optimizer=make_opt(), loss=make_loss(), metrics=metrics)
    results, evaluated = [], []
    for step in range(1, steps + 1):
        # The same weights evaluated first: Keras-JAX's train step hands y_pred back from
        # jax.value_and_grad as a new array without its mask, so its *training* metrics see
        # the padded steps, while test_on_batch (and Keras' TF and torch trainers) mask them.
        evaluated.append(floats(model.test_on_batch(x, y)))
        r = model.train_on_batch(x, y)
        results.append(floats(r))
        arrays[f"step{step}_result"] = np.asarray(r, np.float32).reshape(-1)
        arrays.update(weight_dict(model, f"step{step}"))
    arrays["predict_after"] = model.predict(x, verbose=0)
    info.update({"optimizer": model.optimizer.get_config(), "train_on_batch": results,
                 "test_on_batch_before": evaluated,
                 "metrics_names": list(model.metrics_names)})  # fmt: skip
    if fit:
        model.set_weights(init)
        model.compile(optimizer=make_opt(), loss=make_loss(), metrics=metrics)
        history = model.fit(x, y, shuffle=False, verbose=0, **fit)
        info["fit"] = {"kwargs": fit, "history": {k: floats(v) for k, v in history.history.items()}}
        arrays.update(weight_dict(model, "fit"))
    info["builder_source"] = inspect.getsource(builder)
    info["data_source"] = inspect.getsource(make_data)
    info.update(model_info(model))
    return arrays, info


# ---------------------------------------------------------------- writing


def main(argv=None):
    index = {
        "description": "Embedding/masking goldens from real Keras; see "
        "tools/keras_goldens/record_embedding.py.",
        "init_weights_source": inspect.getsource(init_weights),
        "padded_tokens_source": inspect.getsource(padded_tokens),
        "run_case_source": inspect.getsource(run_case),
    }
    record("embedding", run_case, CASES, index, argv)


if __name__ == "__main__":
    main()
