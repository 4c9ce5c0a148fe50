"""The catalogue of bad inputs: each case is one call that must fail with a clear error.

Run as a script with a group name, it runs that group's cases in this process and prints one
JSON line per case (the test in `test_validation_catalogue.py` runs each group in its own
subprocess, so a crash fails that test rather than the run). A case passes when the call
raises the expected kind of error, whose message mentions every expected piece (the argument
or layer, the value received) and names nothing internal (Numba, LLVM, a private class, an
object address), and when the probe model still predicts what it predicted before and still
trains afterwards.
"""

from __future__ import annotations

import json
import re
import sys
import traceback

import numpy as np

import kerasish as keras
from kerasish import layers

CASES: dict = {}  # group -> [(name, fn, expected error types, mentions)]
CLEAR = (ValueError, TypeError)
INTERNAL = re.compile(r"numba|llvm|(?<![\w`'])_[A-Z]\w*|object at 0x|Traceback", re.IGNORECASE)


def case(group, name, fn, *mentions, errors=CLEAR):
    """Adds a case: `fn()` must raise one of `errors` whose message contains each mention
    (a mention given as a tuple is satisfied by any of its items)."""
    cases = CASES.setdefault(group, [])
    if any(existing[0] == name for existing in cases):
        raise AssertionError(f"duplicate case name {name}")
    cases.append((name, fn, errors, mentions))


def shown(value):
    """The ways a message may show `value` (a tuple may show as a list)."""
    if isinstance(value, tuple):
        return (str(value), str(list(value)))
    if isinstance(value, str):
        return (value,)
    return (repr(value), str(value))


def ctor(group, cls, **bad):
    """A constructor case: `cls(**bad)` with one bad argument among valid ones; the message
    must name the (last) bad argument and its value."""
    required = REQUIRED.get(cls, {})
    args = {**required, **bad}
    key = list(bad)[-1]
    label = f"{cls}({', '.join(f'{k}={v!r}' for k, v in bad.items())})"
    case(group, label, lambda: getattr(layers, cls)(**args), key, shown(bad[key]))


REQUIRED = {
    "Dense": {"units": 3},
    "Dropout": {"rate": 0.5},
    "GaussianDropout": {"rate": 0.5},
    "GaussianNoise": {"stddev": 0.1},
    "Conv1D": {"filters": 2, "kernel_size": 3},
    "Conv2D": {"filters": 2, "kernel_size": 3},
    "Conv1DTranspose": {"filters": 2, "kernel_size": 3},
    "Conv2DTranspose": {"filters": 2, "kernel_size": 3},
    "DepthwiseConv2D": {"kernel_size": 3},
    "SeparableConv2D": {"filters": 2, "kernel_size": 3},
    "AveragePooling1D": {"pool_size": 2},
    "AveragePooling2D": {"pool_size": 2},
    "Embedding": {"input_dim": 10, "output_dim": 4},
    "SimpleRNN": {"units": 3},
    "LSTM": {"units": 3},
    "GRU": {"units": 3},
    "SimpleRNNCell": {"units": 3},
    "LSTMCell": {"units": 3},
    "GRUCell": {"units": 3},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 4},
    "SpatialDropout1D": {"rate": 0.5},
    "SpatialDropout2D": {"rate": 0.5},
    "CenterCrop": {"height": 2, "width": 2},
    "RandomCrop": {"height": 2, "width": 2},
    "Resizing": {"height": 2, "width": 2},
    "RandomContrast": {"factor": 0.5},
    "RandomRotation": {"factor": 0.1},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "Rescaling": {"scale": 1.0},
    "RepeatVector": {"n": 2},
    "Reshape": {"target_shape": (2, 2)},
    "Permute": {"dims": (2, 1)},
    "Dot": {"axes": 1},
    "Activation": {"activation": "relu"},
}


def call(group, name, make_layer, inputs, *mentions):
    """A call case: the layer (named `probe_layer`) applied to bad inputs; the message must
    name the layer."""
    case(group, name, lambda: make_layer()(*inputs), "probe_layer", *mentions)


def arr(*shape, dtype="float32"):
    return np.ones(shape, dtype)


# ---------------------------------------------------------------------------------------------
# The probe model every case of a group shares, and what the training cases call.


def probe_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3)], name="probe_model")  # fmt: skip
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True),
                  metrics=["accuracy"])  # fmt: skip
    return model


MODEL = None  # set in run(): the model every case of a group shares
X = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
Y = np.arange(16) % 3


def m():
    return MODEL


def fresh():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="fresh_model")


# The cases themselves: each module registers its groups through `case` when imported. Run as
# a script, this file is `__main__`; the case modules import it as `validation_cases`.
sys.modules.setdefault("validation_cases", sys.modules[__name__])
import validation_cases_api  # noqa: E402, F401
import validation_cases_layers  # noqa: E402, F401

# ---------------------------------------------------------------------------------------------


def check(name, fn, errors, mentions) -> str | None:
    """None when the case behaves, else what went wrong."""
    try:
        fn()
    except errors as error:
        message = str(error)
        missing = [
            m for m in mentions
            if not any(alt in message for alt in (m if isinstance(m, tuple) else (m,)))
        ]  # fmt: skip
        if missing:
            return f"message lacks {missing}: {type(error).__name__}: {message[:400]}"
        internal = INTERNAL.search(message)
        if internal:
            return f"message names internals ({internal.group(0)}): {message[:400]}"
        return None
    except BaseException as error:  # noqa: BLE001 - a wrong kind of error is the finding
        lines = traceback.format_exception(error)
        return f"raised {type(error).__name__}: {str(error)[:300]} at {lines[-2].strip()[:200]}"
    return "no error was raised"


def still_works(model, expected) -> str | None:
    try:
        got = model.predict(X, verbose=0)
    except BaseException as error:  # noqa: BLE001
        return f"the probe model no longer predicts: {type(error).__name__}: {error}"
    if not np.array_equal(got, expected):
        return "the probe model's predictions changed"
    return None


def run(group: str) -> None:
    global MODEL
    MODEL = probe_model()
    expected = MODEL.predict(X, verbose=0)
    for name, fn, errors, mentions in CASES[group]:
        print(json.dumps({"start": name}), flush=True)
        problem = check(name, fn, errors, mentions) or still_works(MODEL, expected)
        if problem:  # the next cases compare with what the model predicts now
            expected = MODEL.predict(X, verbose=0)
        print(json.dumps({"case": name, "problem": problem}), flush=True)
    history = MODEL.fit(X, Y, epochs=2, verbose=0)  # and it still trains
    print(json.dumps({"trains": bool(np.isfinite(history.history["loss"]).all())}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--count":
        print(json.dumps({g: len(c) for g, c in CASES.items()}))
    else:
        run(sys.argv[1])
