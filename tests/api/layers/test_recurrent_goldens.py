"""Recurrent layers against numbers recorded from real Keras 3.15 (tests/fixtures/
keras_goldens/recurrent.*, tools/keras_goldens/record_recurrent.py): same models, same numpy
initial weights, same inputs -> the same predictions, train_on_batch losses and weights
(eager and compiled), fit losses; and single layers called with masks, initial states,
go_backwards, zero_output_for_mask and stateful batches give Keras' outputs."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "recurrent.json").read_text())["cases"]
DATA = np.load(FIXTURES / "recurrent.npz")
TOL = {"rtol": 1e-5, "atol": 1e-5}
STEPS, FEATURES = 6, 3


def _masking():
    """Masking(0.0); until that layer exists, a Lambda with the same output and mask (the
    recorded inputs are exactly zero at the masked steps, so the values agree)."""
    if hasattr(layers, "Masking"):
        return layers.Masking(mask_value=0.0)
    return layers.Lambda(
        lambda x: x,
        mask=lambda x, previous: ops.greater(ops.max(ops.abs(x), axis=-1), 0.0),
        name="masking",
    )


def _lstm():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.LSTM(5, return_sequences=True),
            layers.LSTM(4),
            layers.Dense(2),
        ]
    )


def _gru():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.GRU(5, return_sequences=True),
            layers.GRU(4),
            layers.Dense(2),
        ]
    )


def _gru_reset_before():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.GRU(5, return_sequences=True, reset_after=False),
            layers.GRU(4, reset_after=False),
            layers.Dense(2),
        ]
    )


def _simple_rnn():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.SimpleRNN(5, return_sequences=True, go_backwards=True),
            layers.SimpleRNN(4),
            layers.Dense(2),
        ]
    )


def _lstm_state():
    x = keras.Input((STEPS, FEATURES), name="x")
    h0, c0 = keras.Input((4,), name="h0"), keras.Input((4,), name="c0")
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    y = layers.Dense(2)(layers.Concatenate()([layers.Flatten()(seq), h, c]))
    return keras.Model([x, h0, c0], y)


def _bidirectional():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
            layers.Bidirectional(layers.LSTM(3), merge_mode="sum"),
            layers.Dense(2),
        ]
    )


def _masked():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            _masking(),
            layers.Bidirectional(layers.GRU(4, return_sequences=True)),
            layers.LSTM(3),
            layers.Dense(2),
        ]
    )


def _masked_sequence():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            _masking(),
            layers.SimpleRNN(4, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
        ]
    )


def _time_distributed():
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.TimeDistributed(layers.Dense(4, activation="tanh")),
            layers.LSTM(3, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
        ]
    )


BUILDERS = {
    "lstm": _lstm, "gru": _gru, "gru_reset_before": _gru_reset_before,
    "simple_rnn": _simple_rnn, "lstm_state": _lstm_state, "bidirectional": _bidirectional,
    "masked": _masked, "masked_sequence": _masked_sequence, "time_distributed": _time_distributed,
}  # fmt: skip
OPTIMIZERS = {"gru": "adam", "bidirectional": "adam"}  # the others: SGD(0.1)


def _arr(case, name):
    return DATA[f"{case}/{name}"]


def _weights(case, prefix):
    return [_arr(case, f"{prefix}_w{i}") for i in range(RECORDED[case]["n_weights"])]


def _inputs(case):
    x = _arr(case, "x")
    return [x, _arr(case, "h0"), _arr(case, "c0")] if case == "lstm_state" else x


def _built(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    model.set_weights(_weights(case, "init"))
    return model


def _optimizer(case):
    if OPTIMIZERS.get(case) == "adam":
        return keras.optimizers.Adam(learning_rate=0.01)
    return keras.optimizers.SGD(learning_rate=0.1)


def _assert_weights(model, case, prefix):
    recorded = RECORDED[case]["weights"]
    for ours, theirs, info in zip(
        model.get_weights(), _weights(case, prefix), recorded, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{prefix}: {info['path']}")


@pytest.mark.parametrize("case", list(BUILDERS))
def test_layers_and_weights_match_keras(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    recorded = RECORDED[case]
    classes = [type(layer).__name__ for layer in model.layers]
    expected = recorded["layer_classes"]
    if not hasattr(layers, "Masking"):
        expected = ["Lambda" if c == "Masking" else c for c in expected]
    assert classes == expected
    assert [layer.name for layer in model.layers] == recorded["layers"]
    assert [w.path for w in model.weights] == [w["path"] for w in recorded["weights"]]
    assert [list(w.shape) for w in model.weights] == [w["shape"] for w in recorded["weights"]]


@pytest.mark.parametrize("case", list(BUILDERS))
def test_predict_matches_keras(case):
    model = _built(case)
    np.testing.assert_allclose(
        model.predict(_inputs(case), verbose=0), _arr(case, "predict"), **TOL
    )


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
@pytest.mark.parametrize("case", list(BUILDERS))
def test_train_on_batch_matches_keras(case, run_eagerly):
    model = _built(case)
    model.compile(optimizer=_optimizer(case), loss="mse", run_eagerly=run_eagerly)
    inputs, y = _inputs(case), _arr(case, "y")
    for k, expected in enumerate(RECORDED[case]["train_on_batch"], start=1):
        result = model.train_on_batch(inputs, y)
        np.testing.assert_allclose(result, expected, **TOL, err_msg=f"step {k} loss")
        _assert_weights(model, case, f"step{k}")
    np.testing.assert_allclose(
        model.predict(_inputs(case), verbose=0), _arr(case, "predict_after"), **TOL
    )


def test_fit_matches_keras():
    # Batches of 4 over 5 samples: the last batch of each epoch has one sample.
    model = _built("lstm")
    model.compile(optimizer=_optimizer("lstm"), loss="mse")
    history = model.fit(
        _arr("lstm", "x"), _arr("lstm", "y"), batch_size=4, epochs=2, shuffle=False, verbose=0
    )
    np.testing.assert_allclose(history.history["loss"], RECORDED["lstm"]["fit_loss"], **TOL)
    _assert_weights(model, "lstm", "fit")


LAYER_CASES = {
    "lstm_mask": lambda: layers.LSTM(4, return_sequences=True),
    "lstm_mask_state": lambda: layers.LSTM(4, return_sequences=True),
    "lstm_mask_backwards": lambda: layers.LSTM(4, return_sequences=True, go_backwards=True),
    "lstm_mask_last": lambda: layers.LSTM(4),
    "gru_mask_zero_output": lambda: layers.GRU(4, return_sequences=True,
                                               zero_output_for_mask=True),
    "gru_reset_before_mask": lambda: layers.GRU(4, return_sequences=True, reset_after=False,
                                                go_backwards=True),
    "simple_rnn_mask_last_zero": lambda: layers.SimpleRNN(4, zero_output_for_mask=True),
    "bidirectional_mask_none": lambda: layers.Bidirectional(
        layers.GRU(3, return_sequences=True, return_state=True), merge_mode=None),
}  # fmt: skip


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_masked_layer_outputs_match_keras(case):
    keras.backend.clear_session()
    x, mask = DATA["layers/x"], DATA["layers/mask"]
    layer = LAYER_CASES[case]()
    layer.build(x.shape)
    recorded = RECORDED[case]
    names = recorded["arrays"]
    layer.set_weights([_arr(case, f"w{i}") for i in range(len(layer.weights))])
    kwargs = {"mask": mask}
    if recorded["initial_state"]:
        kwargs["initial_state"] = [_arr(case, n) for n in sorted(names) if n.startswith("state")]
    out = layer(x, **kwargs)
    out = out if isinstance(out, list) else [out]
    assert len(out) == recorded["n_outputs"]
    for i, value in enumerate(out):
        np.testing.assert_allclose(value, _arr(case, f"out{i}"), **TOL, err_msg=f"output {i}")


def test_stateful_layer_matches_keras_over_batches_and_reset():
    keras.backend.clear_session()
    layer = layers.LSTM(3, stateful=True, return_sequences=True)
    layer.build(_arr("stateful", "x0").shape)
    layer.set_weights([_arr("stateful", f"w{i}") for i in range(3)])
    for i in range(3):
        out = layer(_arr("stateful", f"x{i}"))
        np.testing.assert_allclose(out, _arr("stateful", f"out{i}"), **TOL, err_msg=f"batch {i}")
    layer.reset_state()
    np.testing.assert_allclose(
        layer(_arr("stateful", "x0")), _arr("stateful", "out_after_reset"), **TOL
    )
