"""Recurrent layers' numbers: both paths (whole-sequence and step by step) against plain numpy
recurrences in float64, gradients against float64 central differences through several steps
with masks and go_backwards, dropout masks fixed over the steps, and stateful layers."""

import numpy as np
import pytest

import kerasish as keras
from backend.testing import numeric_gradient
from kerasish import layers, ops

RNG = np.random.default_rng(7)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---- numpy references (Keras' JAX semantics for masks and go_backwards) --------------------


def _scan(step, x, states, mask, go_backwards, zero_output_for_mask):
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = []
    for t in steps:
        out, new = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t : t + 1]
            out = np.where(keep, out, 0.0 if zero_output_for_mask else states[0])
            new = [np.where(keep, n, s) for n, s in zip(new, states, strict=True)]
        outputs.append(out)
        states = new
    return np.stack(outputs, axis=1), states


def lstm_reference(x, w, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    kernel, recurrent, bias = w

    def step(x_t, s):
        i, f, g, o = np.split(x_t @ kernel + s[0] @ recurrent + bias, 4, axis=-1)
        c = _sigmoid(f) * s[1] + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h, [h, c]

    return _scan(step, x, states, mask, go_backwards, zero_output_for_mask)


def gru_reference(
    x, w, states, mask=None, go_backwards=False, zero_output_for_mask=False, reset_after=True
):
    kernel, recurrent, bias = w
    units = recurrent.shape[0]

    def step(x_t, s):
        h = s[0]
        xb = x_t @ kernel + (bias[0] if reset_after else bias)
        x_z, x_r, x_h = np.split(xb, 3, axis=-1)
        if reset_after:
            r_z, r_r, r_h = np.split(h @ recurrent + bias[1], 3, axis=-1)
        else:
            r_z, r_r = np.split(h @ recurrent[:, : 2 * units], 2, axis=-1)
        z, r = _sigmoid(x_z + r_z), _sigmoid(x_r + r_r)
        if reset_after:
            candidate = np.tanh(x_h + r * r_h)
        else:
            candidate = np.tanh(x_h + (r * h) @ recurrent[:, 2 * units :])
        h = z * h + (1 - z) * candidate
        return h, [h]

    return _scan(step, x, states, mask, go_backwards, zero_output_for_mask)


def simple_reference(x, w, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    kernel, recurrent, bias = w

    def step(x_t, s):
        h = np.tanh(x_t @ kernel + s[0] @ recurrent + bias)
        return h, [h]

    return _scan(step, x, states, mask, go_backwards, zero_output_for_mask)


class StepLSTMCell(layers.LSTMCell):
    """An LSTMCell with its own `call`: the RNN layer must step it (no whole-sequence path)."""

    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


class StepGRUCell(layers.GRUCell):
    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


class StepSimpleRNNCell(layers.SimpleRNNCell):
    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


CELLS = {
    "lstm": (layers.LSTMCell, StepLSTMCell, lstm_reference, 2, {}),
    "gru": (layers.GRUCell, StepGRUCell, gru_reference, 1, {}),
    "gru_reset_before": (layers.GRUCell, StepGRUCell, gru_reference, 1, {"reset_after": False}),
    "simple_rnn": (layers.SimpleRNNCell, StepSimpleRNNCell, simple_reference, 1, {}),
}


def _data(batch=3, steps=6, features=4, units=3, n_states=1, dtype=np.float64):
    x = RNG.normal(size=(batch, steps, features)).astype(dtype)
    mask = np.ones((batch, steps), bool)
    mask[1, 4:] = False  # right padding
    mask[2, :2] = False  # left padding: the initial state carries through
    mask[2, 3] = False
    states = [RNG.normal(size=(batch, units)).astype(dtype) * 0.5 for _ in range(n_states)]
    return x, mask, states


def _layer(cell_cls, kwargs, dtype="float64", **rnn_kwargs):
    return layers.RNN(cell_cls(3, dtype=dtype, **kwargs), dtype=dtype, **rnn_kwargs)


def _random_weights(layer):
    return [RNG.normal(size=w.shape) * 0.5 for w in layer.weights]


@pytest.mark.parametrize("path", ["whole_sequence", "step"])
@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"go_backwards": True},
        {"mask": True},
        {"mask": True, "go_backwards": True},
        {"mask": True, "zero_output_for_mask": True},
    ],
    ids=["plain", "backwards", "mask", "mask_backwards", "mask_zero_output"],
)
def test_both_paths_match_numpy_reference(name, path, options):
    fused_cls, step_cls, reference, n_states, kwargs = CELLS[name]
    x, mask, states = _data(n_states=n_states)
    options = dict(options)
    use_mask = options.pop("mask", False)
    layer = _layer(
        fused_cls if path == "whole_sequence" else step_cls,
        kwargs,
        return_sequences=True,
        return_state=True,
        **options,
    )
    layer.build(x.shape)
    assert layer._fusable() == (path == "whole_sequence")
    weights = _random_weights(layer)
    layer.set_weights(weights)
    out = layer(x, initial_state=states, mask=mask if use_mask else None)
    ref_kwargs = {"reset_after": kwargs["reset_after"]} if "reset_after" in kwargs else {}
    expected, expected_states = reference(
        x,
        weights,
        states,
        mask if use_mask else None,
        options.get("go_backwards", False),
        options.get("zero_output_for_mask", False),
        **ref_kwargs,
    )
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(out[1:], expected_states, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-10, atol=1e-12)


def test_last_output_is_the_last_processed_step():
    x, mask, states = _data(n_states=2)
    layer = _layer(layers.LSTMCell, {}, go_backwards=True)
    layer.build(x.shape)
    weights = _random_weights(layer)
    layer.set_weights(weights)
    expected, _ = lstm_reference(x, weights, states, mask, go_backwards=True)
    out = layer(x, initial_state=states, mask=mask).numpy()
    np.testing.assert_allclose(out, expected[:, -1], rtol=1e-10)


# ---- gradients against float64 central differences ---------------------------------------------


def _check_gradients(layer, x, call_kwargs, states=None):
    """d sum(out * probe) / d (x, initial states, every weight) against central differences."""
    out_shape = layer(x, initial_state=states, **call_kwargs).shape
    probe = RNG.normal(size=out_shape)
    weights = layer.get_weights()
    n_states = 0 if states is None else len(states)

    def loss(arrays):
        xs, st, ws = arrays[0], arrays[1 : 1 + n_states], arrays[1 + n_states :]
        layer.set_weights(ws)
        out = layer(xs, initial_state=st or None, **call_kwargs)
        return float(np.sum(out.numpy() * probe))

    arrays = [x, *(states or []), *weights]
    tensors = [ops.convert_to_tensor(a) for a in arrays[: 1 + n_states]]
    layer.set_weights(weights)
    with keras.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        out = layer(tensors[0], initial_state=tensors[1:] or None, **call_kwargs)
        total = ops.sum(ops.multiply(out, probe))
    grads = tape.gradient(total, tensors + layer.trainable_weights)
    for i, grad in enumerate(grads):
        expected = numeric_gradient(loss, arrays, i)
        np.testing.assert_allclose(
            grad.numpy(), expected, rtol=1e-6, atol=1e-8, err_msg=f"gradient {i}"
        )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("lstm", {"return_sequences": True, "go_backwards": True}),
        ("gru", {"return_sequences": True, "zero_output_for_mask": True}),
        ("gru_reset_before", {"go_backwards": True}),
        ("simple_rnn", {"return_sequences": True, "go_backwards": True}),
    ],
)
def test_gradients_match_finite_differences_with_masks(name, kwargs):
    fused_cls, _, _, n_states, cell_kwargs = CELLS[name]
    x, mask, states = _data(steps=6, features=2, units=3, n_states=n_states)
    x, mask, states = x[1:], mask[1:], [s[1:] for s in states]  # the two masked samples
    layer = _layer(fused_cls, cell_kwargs, **kwargs)
    layer.build(x.shape)
    layer.set_weights(_random_weights(layer))
    _check_gradients(layer, x, {"mask": mask}, states)


def test_gradients_of_stacked_cells_stepped_with_mask_and_go_backwards():
    x, mask, _ = _data(steps=5, features=2)
    x, mask = x[1:], mask[1:]
    cells = [layers.GRUCell(2, dtype="float64"), layers.SimpleRNNCell(3, dtype="float64")]
    layer = layers.RNN(cells, return_sequences=True, go_backwards=True, dtype="float64")
    layer.build(x.shape)
    layer.set_weights(_random_weights(layer))
    _check_gradients(layer, x, {"mask": mask})


# ---- dropout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cell_cls", [layers.SimpleRNNCell, StepSimpleRNNCell])
def test_input_dropout_mask_is_the_same_at_every_step(cell_cls):
    # kernel = I, no recurrence, no bias: h_t = tanh(x_t * mask / (1 - rate)), x all ones.
    layer = layers.RNN(cell_cls(16, dropout=0.5, seed=3), return_sequences=True)
    x = np.ones((4, 7, 16), np.float32)
    layer.build(x.shape)
    layer.set_weights([np.eye(16), np.zeros((16, 16)), np.zeros(16)])
    out = layer(x, training=True).numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    dropped = out[:, 0] == 0
    assert 0.2 < dropped.mean() < 0.8
    np.testing.assert_allclose(out[:, 0][~dropped], np.tanh(2.0), rtol=1e-6)
    again = layer(x, training=True).numpy()
    assert not np.array_equal(again, out)  # a new mask for each call
    np.testing.assert_allclose(layer(x).numpy(), np.tanh(1.0), rtol=1e-6)  # inference: none


@pytest.mark.parametrize("cell_cls", [layers.SimpleRNNCell, StepSimpleRNNCell])
def test_recurrent_dropout_mask_is_the_same_at_every_step(cell_cls):
    # h_t = tanh(1 + 0.5 * (h_{t-1} * mask / (1 - rate))): a dropped unit stays at tanh(1)
    # at every step, a kept one grows from the second step on.
    layer = layers.RNN(cell_cls(32, recurrent_dropout=0.5, seed=5), return_sequences=True)
    x = np.zeros((3, 6, 2), np.float32)
    layer.build(x.shape)
    layer.set_weights([np.zeros((2, 32)), 0.5 * np.eye(32), np.ones(32)])
    out = layer(x, training=True).numpy()
    dropped = np.all(np.isclose(out, np.tanh(1.0)), axis=1)
    kept = np.all(out[:, 1:] > np.tanh(1.0) + 1e-3, axis=1)
    assert np.all(dropped ^ kept)
    assert 0.2 < dropped.mean() < 0.8


@pytest.mark.parametrize(
    "cell, input_masks, recurrent_masks",
    [
        (layers.LSTMCell(3, dropout=0.5), 1, 0),
        (layers.LSTMCell(3, dropout=0.5, recurrent_dropout=0.5), 4, 4),
        (layers.LSTMCell(3, dropout=0.5, implementation=1), 4, 0),
        (layers.GRUCell(3, dropout=0.5, recurrent_dropout=0.5), 3, 3),
        (layers.GRUCell(3, recurrent_dropout=0.5), 0, 3),
        (layers.SimpleRNNCell(3, dropout=0.5, recurrent_dropout=0.5), 1, 1),
    ],
)
def test_dropout_mask_counts_follow_keras(cell, input_masks, recurrent_masks):
    step_input, state = np.ones((64, 5), np.float32), np.ones((64, 3), np.float32)
    for get, count in (
        (cell.get_dropout_mask, input_masks),
        (cell.get_recurrent_dropout_mask, recurrent_masks),
    ):
        masks = get(step_input if get == cell.get_dropout_mask else state)
        if count == 0:
            assert masks is None
        elif count == 1:
            assert not isinstance(masks, list)
        else:
            assert isinstance(masks, list) and len(masks) == count
            values = [m.numpy() for m in masks]
            assert all(not np.array_equal(values[0], v) for v in values[1:])  # one per gate


def test_per_gate_dropout_masks_reach_each_gate():
    # With recurrent dropout (implementation 1), each gate's inputs get their own mask: the
    # whole-sequence and step paths agree given the same masks (same seed, same draws).
    x = RNG.normal(size=(4, 5, 3)).astype(np.float32)
    outs = []
    for cell_cls in (layers.LSTMCell, StepLSTMCell):
        layer = layers.RNN(cell_cls(6, dropout=0.3, recurrent_dropout=0.4, seed=11))
        layer.build(x.shape)
        layer.set_weights([w * 0 + RNG_FIXED[i] for i, w in enumerate(layer.get_weights())])
        outs.append(layer(x, training=True).numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    no_dropout = layers.RNN(layers.LSTMCell(6))
    no_dropout.build(x.shape)
    no_dropout.set_weights([w * 0 + RNG_FIXED[i] for i, w in enumerate(no_dropout.get_weights())])
    assert not np.allclose(no_dropout(x).numpy(), outs[0], atol=1e-3)


RNG_FIXED = [
    np.random.default_rng(1).normal(size=s).astype(np.float32) * 0.5
    for s in [(3, 24), (6, 24), (24,)]
]


# ---- stateful ----------------------------------------------------------------------------------


def test_stateful_layer_carries_states_across_calls_and_resets():
    x = RNG.normal(size=(2, 8, 3)).astype(np.float32)
    layer = layers.GRU(4, stateful=True, return_sequences=True)
    layer(x[:, :4])
    second = layer(x[:, 4:]).numpy()
    whole = layers.GRU(4, return_sequences=True)
    whole.build(x.shape)
    whole.set_weights(layer.get_weights())
    np.testing.assert_allclose(second, whole(x).numpy()[:, 4:], rtol=1e-5, atol=1e-6)
    assert len(layer.weights) == 3 and len(layer.states) == 1  # states are not weights
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :4]).numpy(), whole(x).numpy()[:, :4], rtol=1e-5)


def test_stateful_model_carries_states_through_compiled_predict_and_fit():
    x = RNG.normal(size=(2, 8, 3)).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((4, 3), batch_size=2), layers.LSTM(4, stateful=True, return_sequences=True)]
    )
    first = model.predict(x[:, :4], batch_size=2, verbose=0)
    second = model.predict(x[:, 4:], batch_size=2, verbose=0)
    reference = layers.LSTM(4, return_sequences=True)
    reference.build(x.shape)
    reference.set_weights(model.get_weights())
    expected = reference(x).numpy()
    np.testing.assert_allclose(first, expected[:, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, expected[:, 4:], rtol=1e-5, atol=1e-6)
    lstm = model.layers[0]
    lstm.reset_state()
    assert not np.any(lstm.states[0].numpy())
    model.compile("sgd", "mse")
    model.fit(x[:, :4], np.zeros((2, 4, 4)), batch_size=2, epochs=1, verbose=0)
    assert np.any(lstm.states[0].numpy())  # the training step updated the states too


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match=r"LSTM 'lstm.*fixed batch size.*batch_size"):
        keras.Sequential([keras.Input((4, 3)), layers.LSTM(2, stateful=True, name="lstm")])
    layer = layers.SimpleRNN(2, stateful=True)
    layer(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match=r"stateful with batch size 3.*\(5, 4, 2\)"):
        layer(np.ones((5, 4, 2)))


def test_gradients_through_a_long_masked_backward_sequence():
    x = RNG.normal(size=(2, 20, 1))
    layer = _layer(layers.GRUCell, {}, go_backwards=True)
    layer.build(x.shape)
    layer.set_weights(_random_weights(layer))
    mask = np.ones((2, 20), bool)
    mask[0, 17:] = False
    _check_gradients(layer, x, {"mask": mask})
