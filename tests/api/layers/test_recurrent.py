"""Recurrent layers through the layer harness (shapes, weights, a training step eager and
compiled, config round trip), in models, with masks and initial states, and their errors."""

import doctest
import importlib
import json

import numpy as np
import pytest

import kerasish as keras
from backend import compiler
from backend.tensor import SymbolicTensor
from kerasish import layers
from kerasish.saving import serialization
from kerasish.testing import run_layer_test

SEQ = (2, 5, 3)


@pytest.mark.parametrize(
    "cls, kwargs, out_shape, n_weights",
    [
        (layers.SimpleRNN, {"units": 4}, (2, 4), 3),
        (
            layers.SimpleRNN,
            {"units": 4, "return_sequences": True, "activation": "relu"},
            (2, 5, 4),
            3,
        ),
        (layers.LSTM, {"units": 4}, (2, 4), 3),
        (
            layers.LSTM,
            {"units": 4, "return_sequences": True, "go_backwards": True, "use_bias": False},
            (2, 5, 4),
            2,
        ),
        (layers.GRU, {"units": 4, "return_sequences": True}, (2, 5, 4), 3),
        (layers.GRU, {"units": 4, "reset_after": False, "unroll": True}, (2, 4), 3),
        (layers.RNN, {"cell": layers.LSTMCell(4)}, (2, 4), 3),
        (
            layers.RNN,
            {"cell": [layers.GRUCell(4), layers.SimpleRNNCell(2)], "return_sequences": True},
            (2, 5, 2),
            6,
        ),
        (layers.Bidirectional, {"layer": layers.LSTM(4, return_sequences=True)}, (2, 5, 8), 6),
        (layers.Bidirectional, {"layer": layers.GRU(4), "merge_mode": "ave"}, (2, 4), 6),
        (layers.TimeDistributed, {"layer": layers.Dense(4, activation="tanh")}, (2, 5, 4), 2),
    ],
)
def test_layer_harness(cls, kwargs, out_shape, n_weights):
    run_layer_test(cls, kwargs, SEQ, out_shape, expected_num_trainable_weights=n_weights)


def test_cell_harness_inside_rnn():
    for cell in (layers.LSTMCell, layers.GRUCell, layers.SimpleRNNCell):
        config = cell(3, recurrent_dropout=0.25, seed=2).get_config()
        restored = cell.from_config(json.loads(json.dumps(config)))
        assert restored.get_config() == config
        assert restored.implementation == 1  # recurrent dropout: one mask per gate


def test_weight_shapes_names_and_initial_biases_follow_keras():
    lstm, gru, gru_before = layers.LSTM(4), layers.GRU(4), layers.GRU(4, reset_after=False)
    for layer in (lstm, gru, gru_before):
        layer(np.ones(SEQ))
    assert [w.path for w in lstm.weights] == [
        f"{lstm.name}/lstm_cell/kernel", f"{lstm.name}/lstm_cell/recurrent_kernel",
        f"{lstm.name}/lstm_cell/bias",
    ]  # fmt: skip
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), [0] * 4 + [1] * 4 + [0] * 8)
    rk = lstm.cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(rk @ rk.T, np.eye(4), atol=1e-5)  # orthogonal
    assert [w.shape for w in gru.weights] == [(3, 12), (4, 12), (2, 12)]
    assert [w.shape for w in gru_before.weights] == [(3, 12), (4, 12), (12,)]
    no_forget = layers.LSTM(2, unit_forget_bias=False, bias_initializer="ones")
    no_forget(np.ones(SEQ))
    np.testing.assert_array_equal(no_forget.cell.bias.numpy(), np.ones(8))


def test_layer_reads_its_cell_arguments():
    layer = layers.LSTM(5, dropout=0.25, recurrent_activation="hard_sigmoid")
    assert layer.units == 5 and layer.dropout == 0.25
    assert layer.recurrent_activation is keras.activations.hard_sigmoid
    with pytest.raises(AttributeError):
        layer.not_an_argument  # noqa: B018


def test_configs_follow_keras_and_round_trip():
    layer = layers.LSTM(3, return_sequences=True, kernel_regularizer="l2", dropout=0.1)
    config = layer.get_config()
    assert "cell" not in config and config["units"] == 3 and config["unit_forget_bias"]
    assert config["zero_output_for_mask"] is False and config["activity_regularizer"] is None
    keras2 = {**config, "implementation": 1, "time_major": False}  # Keras 2 keys
    assert layers.LSTM.from_config(keras2).get_config() == config
    rnn = layers.RNN([layers.LSTMCell(3), layers.GRUCell(2, reset_after=False)], stateful=False)
    entry = json.loads(json.dumps(serialization.serialize(rnn)))
    restored = serialization.deserialize(entry)
    assert restored.get_config() == rnn.get_config()
    assert entry["config"]["cell"]["class_name"] == "StackedRNNCells"


def test_sequential_model_summary_fit_and_predict():
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.GRU(4, return_sequences=True),
            layers.Bidirectional(layers.LSTM(3)),
            layers.Dense(1),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "gru (GRU)" in text and "(None, 5, 4)" in text and "(None, 6)" in text
    assert f"Total params: {model.count_params():,}" in text
    model.compile("adam", "mse")
    x, y = np.ones((8, 5, 3), np.float32), np.zeros((8, 1), np.float32)
    history = model.fit(x, y, batch_size=3, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_allclose(model.predict(x, verbose=0), model(x).numpy(), rtol=1e-5)
    restored = keras.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    restored.set_weights(model.get_weights())
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_functional_initial_state_inputs_and_returned_states():
    x = keras.Input((5, 3))
    h0, c0 = keras.Input((4,)), keras.Input((4,))
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    out, h2 = layers.GRU(4, return_state=True)(seq, initial_state=h)
    model = keras.Model([x, h0, c0], [out, h2, c])
    data = [np.ones((2, 5, 3)), np.full((2, 4), 0.5), np.full((2, 4), -0.5)]
    got = model.predict(data, verbose=0)
    lstm, gru = model.layers[3], model.layers[4]
    assert [type(layer).__name__ for layer in (lstm, gru)] == ["LSTM", "GRU"]
    ref_seq, ref_h, ref_c = lstm(data[0], initial_state=data[1:])
    ref_out, _ = gru(ref_seq, initial_state=[ref_h])
    np.testing.assert_allclose(got[0], ref_out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], ref_c.numpy(), rtol=1e-5, atol=1e-6)
    rebuilt = keras.Model.from_config(json.loads(json.dumps(model.get_config())))
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(data, verbose=0)[0], got[0], rtol=1e-6)


def test_unknown_time_steps_build_and_run_per_length():
    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            layers.LSTM(4, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
            layers.SimpleRNN(2),
        ]
    )
    for steps in (3, 7):
        x = np.ones((2, steps, 3), np.float32)
        assert model.predict(x, verbose=0).shape == (2, 2)
    layer = layers.LSTM(2, name="lstm_unknown")
    with pytest.raises(ValueError, match=r"LSTM 'lstm_unknown' unrolls.*known.*\(2, None, 3\)"):
        layer.build((2, None, 3))
        compiler.trace(lambda t: layer(t), (SymbolicTensor((2, None, 3), "float32"),))


def test_masks_pass_on_with_sequences_only_and_never_to_states():
    x = np.ones((2, 4, 3), np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    seq, h = layers.GRU(2, return_sequences=True, return_state=True)(x, mask=mask)
    np.testing.assert_array_equal(np.asarray(seq._mask), mask)
    assert h._mask is None
    assert layers.GRU(2)(x, mask=mask)._mask is None
    both = layers.Bidirectional(layers.GRU(2, return_sequences=True), merge_mode=None)(x, mask=mask)
    assert all(np.array_equal(np.asarray(y._mask), mask) for y in both)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.LSTM(0), r"LSTM: `units` must be a positive integer. Received: units=0"),
        (lambda: layers.GRU(-3), r"GRU: `units`.*Received: units=-3"),
        (lambda: layers.SimpleRNN(2.5), r"SimpleRNN: `units`.*units=2.5"),
        (lambda: layers.LSTM(2, dropout=1.0), r"LSTM: `dropout` must be a float in \[0, 1\)"),
        (lambda: layers.GRU(2, recurrent_dropout=-0.1), r"GRU: `recurrent_dropout`.*-0.1"),
        (lambda: layers.LSTMCell(2, dropout="x"), r"LSTMCell: `dropout`.*'x'"),
        (lambda: layers.LSTM(2, implementation=3), r"LSTM: `implementation` must be 1 or 2"),
        (
            lambda: layers.Bidirectional(layers.LSTM(2), merge_mode="max"),
            r"Bidirectional: `merge_mode` must be one of.*merge_mode='max'",
        ),
        (lambda: layers.Bidirectional(layers.Dense(2)), r"Bidirectional: `layer` must be a recurr"),
        (
            lambda: layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2)),
            r"differ in `go_backwards`",
        ),
        (
            lambda: layers.Bidirectional(
                layers.LSTM(2),
                backward_layer=layers.LSTM(2, go_backwards=True, return_sequences=True),
            ),
            r"same `return_sequences`",
        ),
        (lambda: layers.RNN(3), r"RNN: `cell` must be a Layer"),
        (lambda: layers.RNN(layers.Dense(2)), r"RNN: the cell must have a `state_size`"),
        (lambda: layers.StackedRNNCells([]), r"StackedRNNCells: `cells` must be a non-empty"),
        (lambda: layers.TimeDistributed("dense"), r"TimeDistributed: `layer` must be a Layer"),
    ],
)
def test_invalid_arguments_raise_clear_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_bad_inputs_and_states_raise_clear_errors():
    with pytest.raises(
        ValueError,
        match=r"LSTM 'lstm\w*' expects inputs of shape \(batch, "
        r"timesteps, features\). Received: input shape \(2, 3\)",
    ):
        layers.LSTM(2)(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"GRU 'g' expects inputs of shape"):
        layers.GRU(2, name="g")(np.ones((2, 3, 4, 5)))
    layer = layers.LSTM(3, name="lstm_a")
    layer(np.ones(SEQ))
    with pytest.raises(
        ValueError, match=r"LSTM 'lstm_a' was built for inputs \(batch, timesteps, 3"
    ):
        layer(np.ones((2, 5, 4)))
    with pytest.raises(
        ValueError,
        match=r"LSTM 'lstm_a': `initial_state` must be 2 tensor\(s\) "
        r"of shapes \[\(2, 3\), \(2, 3\)\]. Received: 1 tensor",
    ):
        layer(np.ones(SEQ), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"Received: 2 tensor\(s\) of shapes \[\(2, 3\), \(2, 4\)"):
        layer(np.ones(SEQ), initial_state=[np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"the mask must be \(batch, timesteps\)"):
        layer(np.ones(SEQ), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"Bidirectional 'bi'.*even count"):
        layers.Bidirectional(layers.GRU(2), name="bi")(
            np.ones(SEQ), initial_state=[np.zeros((2, 2))]
        )
    with pytest.raises(ValueError, match=r"TimeDistributed 'td' expects inputs.*rank >= 3"):
        layers.TimeDistributed(layers.Dense(2), name="td")(np.ones((2, 3)))


@pytest.mark.parametrize(
    "name",
    ["rnn", "lstm", "gru", "simple_rnn", "stacked_rnn_cells", "bidirectional", "time_distributed"],
)
def test_docstring_examples(name):
    module = importlib.import_module(f"kerasish.layers.rnn.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_lstm_input_bias_reaches_the_loop_once():
    # The built-in LSTM passes its bias to the fused loop apart from x @ kernel; a subclass
    # with its own `_step` and `_sequence` (still fused) that calls super()'s gets x_proj
    # with the bias and no bias apart. Both equal the step-by-step cell on the same weights.
    class Wrapped(layers.LSTMCell):
        def _step(self, x_proj, states, recurrent_masks):
            return super()._step(x_proj, states, recurrent_masks)

        def _sequence(self, x_proj, states, *args):
            return super()._sequence(x_proj, states, *args)

    class Stepped(layers.LSTMCell):
        def call(self, inputs, states, training=None):
            return super().call(inputs, states, training)

    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype("float32")
    rng = np.random.default_rng(1)
    shapes = [(4, 24), (6, 24), (24,)]  # kernel, recurrent kernel, bias (random: not zero)
    weights = [rng.standard_normal(s).astype("float32") * 0.5 for s in shapes]
    outs = []
    for cell in (layers.LSTMCell(6), Wrapped(6), Stepped(6)):
        rnn = layers.RNN(cell, return_sequences=True)
        rnn.build(x.shape)
        rnn.set_weights(weights)
        assert cell.can_fuse() == (type(cell) is not Stepped)
        outs.append(rnn(x).numpy())
    np.testing.assert_allclose(outs[0], outs[2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[1], outs[2], rtol=1e-5, atol=1e-5)
