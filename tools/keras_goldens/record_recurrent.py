"""Record golden values for the recurrent layers from real Keras 3.

Run it in the keras venv (never a kerasish dependency); see README.md next to this file:

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tools/keras_goldens/record_recurrent.py \
        --out tests/fixtures/keras_goldens

Model cases (LSTM, GRU with reset_after True and False, SimpleRNN with go_backwards, LSTM
with return_state and initial_state inputs, Bidirectional concat and sum, a Masking case,
TimeDistributed(Dense) with a per-step loss): INITIAL WEIGHTS MADE WITH NUMPY
(`init_weights`) through `set_weights`, then `predict`, 3 `train_on_batch` steps (losses and
every weight after each step) and `predict` again. One case also runs `fit`. Layer cases
call single layers eagerly with explicit masks, initial states, `go_backwards` and
`zero_output_for_mask`, and a stateful layer over consecutive batches.

Output: `recurrent.npz` (arrays `<case>/<name>`) and `recurrent.json` (per case: the
builder's source, layer names and classes, weight paths and shapes in `get_weights()`
order, losses as floats). Byte-for-byte deterministic: the npz is written with sorted keys
and a fixed zip timestamp, the JSON with sorted keys.
"""

import argparse
import inspect
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

# The helpers of the convolution recorder next to this file: numpy-made initial weights
# (for 2-D weights, a GRU's (2, 3u) bias included, uniform in +-sqrt(6 / (fan_in + fan_out));
# 1-D weights normal * 0.1), name resets, model descriptions, deterministic npz writing.
from record_conv import (  # noqa: E402
    fresh,
    init_weights,
    model_info,
    to_float,
    versions,
    weight_dict,
    write_npz,
)

if keras.backend.backend() != "jax":
    sys.exit(f"record_recurrent.py needs KERAS_BACKEND=jax, got {keras.backend.backend()!r}")

BATCH, STEPS, FEATURES = 5, 6, 3


# ---------------------------------------------------------------- helpers


def padded_sequences(rng, lengths, leading=()):
    """(BATCH, STEPS, FEATURES) normal inputs with the steps past each sample's length (and
    the first step of the samples in `leading`) all zero: what Masking(0.0) masks."""
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    for i in leading:
        x[i, 0] = 0.0
    return x


# ---------------------------------------------------------------- models


def model_lstm():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.LSTM(5, return_sequences=True),
            layers.LSTM(4),
            layers.Dense(2),
        ]
    )


def model_gru():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.GRU(5, return_sequences=True),
            layers.GRU(4),
            layers.Dense(2),
        ]
    )


def model_gru_reset_before():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.GRU(5, return_sequences=True, reset_after=False),
            layers.GRU(4, reset_after=False),
            layers.Dense(2),
        ]
    )


def model_simple_rnn():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.SimpleRNN(5, return_sequences=True, go_backwards=True),
            layers.SimpleRNN(4),
            layers.Dense(2),
        ]
    )


def model_lstm_state():
    x = keras.Input((STEPS, FEATURES), name="x")
    h0 = keras.Input((4,), name="h0")
    c0 = keras.Input((4,), name="c0")
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    y = layers.Dense(2)(layers.Concatenate()([layers.Flatten()(seq), h, c]))
    return keras.Model([x, h0, c0], y)


def model_bidirectional():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
            layers.Bidirectional(layers.LSTM(3), merge_mode="sum"),
            layers.Dense(2),
        ]
    )


def model_masked():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.Masking(mask_value=0.0),
            layers.Bidirectional(layers.GRU(4, return_sequences=True)),
            layers.LSTM(3),
            layers.Dense(2),
        ]
    )


def model_masked_sequence():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.Masking(mask_value=0.0),
            layers.SimpleRNN(4, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
        ]
    )


def model_time_distributed():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.TimeDistributed(layers.Dense(4, activation="tanh")),
            layers.LSTM(3, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
        ]
    )


def sgd():
    return keras.optimizers.SGD(learning_rate=0.1)


def adam():
    return keras.optimizers.Adam(learning_rate=0.01)


# case: (builder, seed, optimizer factory, target shape, masked inputs)
CASES = {
    "lstm": (model_lstm, 21, sgd, (BATCH, 2), False),
    "gru": (model_gru, 22, adam, (BATCH, 2), False),
    "gru_reset_before": (model_gru_reset_before, 23, sgd, (BATCH, 2), False),
    "simple_rnn": (model_simple_rnn, 24, sgd, (BATCH, 2), False),
    "lstm_state": (model_lstm_state, 25, sgd, (BATCH, 2), False),
    "bidirectional": (model_bidirectional, 26, adam, (BATCH, 2), False),
    "masked": (model_masked, 27, sgd, (BATCH, 2), True),
    "masked_sequence": (model_masked_sequence, 28, sgd, (BATCH, STEPS, 2), True),
    "time_distributed": (model_time_distributed, 29, sgd, (BATCH, STEPS, 2), False),
}
STEPS_PER_CASE = 3


def run_case(name):
    """Build, set numpy weights, predict, 3 train_on_batch steps, predict again."""
    builder, seed, make_opt, y_shape, masked = CASES[name]
    fresh()
    rng = np.random.default_rng(2000 + seed)
    if masked:
        x = padded_sequences(rng, lengths=(6, 4, 2, 5, 1), leading=(3,))
    else:
        x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    arrays = {"x": x}
    inputs = x
    if name == "lstm_state":
        arrays["h0"] = rng.normal(size=(BATCH, 4)).astype(np.float32) * 0.5
        arrays["c0"] = rng.normal(size=(BATCH, 4)).astype(np.float32) * 0.5
        inputs = [x, arrays["h0"], arrays["c0"]]
    y = rng.normal(size=y_shape).astype(np.float32)
    arrays["y"] = y
    model = builder()
    init = init_weights([(w.name, tuple(w.shape)) for w in model.weights], seed)
    model.set_weights(init)
    arrays.update(weight_dict(model, "init"))
    arrays["predict"] = model.predict(inputs, verbose=0)
    model.compile(optimizer=make_opt(), loss="mse")
    losses = []
    for step in range(1, STEPS_PER_CASE + 1):
        r = model.train_on_batch(inputs, y)
        losses.append(to_float(r))
        arrays.update(weight_dict(model, f"step{step}"))
    arrays["predict_after"] = model.predict(inputs, verbose=0)
    info = {
        "seed": seed,
        "n_weights": len(init),
        "optimizer": model.optimizer.get_config(),
        "loss": "mse",
        "train_on_batch": losses,
        "builder_source": inspect.getsource(builder),
        **model_info(model),
    }
    if name == "lstm":
        # fit over 2 epochs, batches of 4 (the last batch of each epoch has 1 sample).
        fresh()
        model = builder()
        model.set_weights(init)
        model.compile(optimizer=make_opt(), loss="mse")
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        info["fit_loss"] = [to_float(v) for v in history.history["loss"]]
        arrays.update(weight_dict(model, "fit"))
    return arrays, info


# ---------------------------------------------------------------- single layers, eagerly


LAYER_CASES = {
    # name: (layer class, kwargs, use initial state)
    "lstm_mask": (layers.LSTM, {"units": 4, "return_sequences": True}, False),
    "lstm_mask_state": (layers.LSTM, {"units": 4, "return_sequences": True}, True),
    "lstm_mask_backwards": (
        layers.LSTM,
        {"units": 4, "return_sequences": True, "go_backwards": True},
        False,
    ),
    "lstm_mask_last": (layers.LSTM, {"units": 4}, True),
    "gru_mask_zero_output": (
        layers.GRU,
        {"units": 4, "return_sequences": True, "zero_output_for_mask": True},
        True,
    ),
    "gru_reset_before_mask": (
        layers.GRU,
        {"units": 4, "return_sequences": True, "reset_after": False, "go_backwards": True},
        False,
    ),
    "simple_rnn_mask_last_zero": (
        layers.SimpleRNN,
        {"units": 4, "zero_output_for_mask": True},
        False,
    ),
    "bidirectional_mask_none": (None, {}, False),
}


def run_layer_case(name, mask, x, rng):
    cls, kwargs, with_state = LAYER_CASES[name]
    fresh()
    if cls is None:  # Bidirectional, merge_mode=None, returning states
        layer = layers.Bidirectional(
            layers.GRU(3, return_sequences=True, return_state=True), merge_mode=None
        )
        layer.build(x.shape)
        n_states = 2
    else:
        layer = cls(**kwargs)
        layer.build(x.shape)
        n_states = 2 if cls is layers.LSTM else 1
    weights = init_weights([(w.name, tuple(w.shape)) for w in layer.weights], len(name))
    layer.set_weights(weights)
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    call = {"mask": mask}
    units = kwargs.get("units", 3)
    if with_state:
        states = [rng.normal(size=(BATCH, units)).astype(np.float32) for _ in range(n_states)]
        call["initial_state"] = states
        arrays.update({f"state{i}": s for i, s in enumerate(states)})
    out = layer(x, **call)
    outputs = out if isinstance(out, (list, tuple)) else [out]
    for i, value in enumerate(outputs):
        arrays[f"out{i}"] = np.asarray(value)
    info = {"kwargs": kwargs, "initial_state": with_state, "n_outputs": len(outputs)}
    return arrays, info


def run_stateful():
    """A stateful LSTM called eagerly on three batches, reset, then once more."""
    fresh()
    rng = np.random.default_rng(3000)
    layer = layers.LSTM(3, stateful=True, return_sequences=True)
    batches = [rng.normal(size=(2, 4, FEATURES)).astype(np.float32) for _ in range(3)]
    layer.build(batches[0].shape)
    weights = init_weights([(w.name, tuple(w.shape)) for w in layer.weights], 31)
    layer.set_weights(weights)
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    for i, batch in enumerate(batches):
        arrays[f"x{i}"] = batch
        arrays[f"out{i}"] = np.asarray(layer(batch))
    layer.reset_state()
    arrays["out_after_reset"] = np.asarray(layer(batches[0]))
    return arrays, {"note": "eager calls; Keras-JAX's fit/predict do not update the states"}


# ---------------------------------------------------------------- writing


def _store(all_arrays, cases, name, arrays, info):
    for k, v in arrays.items():
        v = np.asarray(v)
        if v.dtype == bool:
            pass
        elif v.dtype.kind in "iu":
            v = v.astype(np.int32)
        else:
            v = v.astype(np.float32)
        all_arrays[f"{name}/{k}"] = v
    info["arrays"] = {k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in arrays.items()}
    cases[name] = info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    all_arrays, cases = {}, {}
    for name in CASES:
        _store(all_arrays, cases, name, *run_case(name))
    rng = np.random.default_rng(4000)
    x = padded_sequences(rng, lengths=(6, 4, 2, 5, 3), leading=(1, 3))
    mask = np.any(x != 0.0, axis=-1)
    all_arrays["layers/x"], all_arrays["layers/mask"] = x, mask
    for name in LAYER_CASES:
        _store(all_arrays, cases, name, *run_layer_case(name, mask, x, rng))
    _store(all_arrays, cases, "stateful", *run_stateful())
    os.makedirs(args.out, exist_ok=True)
    write_npz(os.path.join(args.out, "recurrent.npz"), all_arrays)
    index = {
        "description": "Recurrent layer goldens from real Keras; see "
        "tools/keras_goldens/record_recurrent.py.",
        "versions": versions(),
        "init_weights_source": inspect.getsource(init_weights),
        "run_case_source": inspect.getsource(run_case),
        "run_layer_case_source": inspect.getsource(run_layer_case),
        "cases": cases,
    }
    with open(os.path.join(args.out, "recurrent.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases, {len(all_arrays)} arrays")


if __name__ == "__main__":
    main()
