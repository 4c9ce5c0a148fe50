"""User cells in RNN, StackedRNNCells, Bidirectional and TimeDistributed: what they compute
(against the layers they are made of, or numpy), their states, masks and configs."""

import json

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops
from kerasish.saving import serialization

RNG = np.random.default_rng(3)


class MinimalRNNCell(layers.Layer):
    """Keras' documented example cell: `h' = x @ W + h @ U`, output `2 * h'` of its own size."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), name="recurrent_kernel"
        )

    def call(self, inputs, states, training=None):
        h = ops.add(ops.matmul(inputs, self.kernel), ops.matmul(states[0], self.recurrent_kernel))
        factor = 1.0 if training else 2.0  # `training` reaches the cell
        return ops.multiply(h, factor), [h]

    def get_initial_state(self, batch_size=None):
        return [ops.ones((batch_size, self.units))]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _minimal_reference(x, kernel, recurrent, mask=None, training=False):
    h = np.ones((x.shape[0], kernel.shape[1]), np.float32)
    outputs = []
    for t in range(x.shape[1]):
        new = x[:, t] @ kernel + h @ recurrent
        out = new * (1.0 if training else 2.0)
        if mask is not None:  # as Keras: a masked step outputs the previous first state
            keep = mask[:, t : t + 1]
            out, new = np.where(keep, out, h), np.where(keep, new, h)
        outputs.append(out)
        h = new
    return np.stack(outputs, axis=1), h


def test_user_cell_in_rnn_matches_numpy_with_mask_training_and_initial_state():
    x = RNG.normal(size=(3, 5, 2)).astype(np.float32)
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    mask[2, 0] = False  # before any step: the cell's own initial state (ones) is carried
    layer = layers.RNN(MinimalRNNCell(4), return_sequences=True, return_state=True)
    seq, h = layer(x, mask=mask)
    kernel, recurrent = (w.numpy() for w in layer.weights)
    expected, expected_h = _minimal_reference(x, kernel, recurrent, mask)
    np.testing.assert_allclose(seq.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), expected_h, rtol=1e-5, atol=1e-6)
    trained, _ = layer(x, training=True)
    np.testing.assert_allclose(
        trained.numpy(), _minimal_reference(x, kernel, recurrent, training=True)[0], rtol=1e-5
    )
    assert [w.path for w in layer.weights] == [
        f"{layer.name}/minimal_rnn_cell/kernel",
        f"{layer.name}/minimal_rnn_cell/recurrent_kernel",
    ]


def test_user_cell_serializes_trains_and_goes_bidirectional():
    layer = layers.RNN(MinimalRNNCell(3))
    config = json.loads(json.dumps(serialization.serialize(layer)))
    restored = serialization.deserialize(config, {"MinimalRNNCell": MinimalRNNCell})
    assert restored.get_config() == layer.get_config()
    both = layers.Bidirectional(layers.RNN(MinimalRNNCell(3), return_sequences=True))
    assert both(np.ones((2, 4, 2), np.float32)).shape == (2, 4, 6)
    model = keras.Sequential([keras.Input((4, 2)), layers.RNN(MinimalRNNCell(3)), layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    before = model.get_weights()
    model.fit(RNG.normal(size=(8, 4, 2)), np.zeros((8, 1)), batch_size=4, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("use_mask", [False, True])
def test_stacked_cells_equal_the_layers_they_stack(use_mask):
    x = RNG.normal(size=(3, 6, 2)).astype(np.float32)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2, :2] = False
    mask = mask if use_mask else None
    stacked = layers.RNN(
        [layers.LSTMCell(4), layers.GRUCell(3)], return_sequences=True, return_state=True
    )
    seq, (h1, c1), (h2,) = stacked(x, mask=mask)
    first = layers.LSTM(4, return_sequences=True, return_state=True)
    second = layers.GRU(3, return_sequences=True, return_state=True)
    first.build(x.shape)
    second.build((3, 6, 4))
    weights = stacked.get_weights()
    first.set_weights(weights[:3])
    second.set_weights(weights[3:])
    mid, ref_h1, ref_c1 = first(x, mask=mask)
    ref_seq, ref_h2 = second(mid, mask=mask)
    for ours, theirs in ((seq, ref_seq), (h1, ref_h1), (c1, ref_c1), (h2, ref_h2)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    cells = stacked.cell
    assert stacked.weights[3].path == f"{stacked.name}/{cells.name}/{cells.cells[1].name}/kernel"


def test_stacked_initial_state_flat_or_nested():
    x = RNG.normal(size=(2, 3, 2)).astype(np.float32)
    layer = layers.RNN([layers.LSTMCell(2), layers.SimpleRNNCell(2)])
    states = [RNG.normal(size=(2, 2)).astype(np.float32) for _ in range(3)]
    flat = layer(x, initial_state=states).numpy()
    nested = layer(x, initial_state=[states[:2], states[2:]]).numpy()
    np.testing.assert_array_equal(flat, nested)
    assert not np.allclose(flat, layer(x).numpy())


# ---- Bidirectional -----------------------------------------------------------------------------


def _flip(a):
    return np.flip(np.asarray(a), axis=1)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_forward_and_flipped_backward(merge_mode):
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    gru = layers.GRU(4, return_sequences=True, name="gru")
    layer = layers.Bidirectional(gru, merge_mode=merge_mode)
    out = layer(x)
    forward = layer.forward_layer(x).numpy()
    backward = _flip(layer.backward_layer(x))
    np.testing.assert_allclose(backward[:, -1], layer.backward_layer(x[:, -1:]).numpy()[:, 0])
    expected = {
        "concat": lambda: np.concatenate([forward, backward], -1),
        "sum": lambda: forward + backward,
        "mul": lambda: forward * backward,
        "ave": lambda: (forward + backward) / 2,
        None: lambda: [forward, backward],
    }[merge_mode]()
    if merge_mode is None:
        assert isinstance(out, list) and len(out) == 2
        for ours, theirs in zip(out, expected, strict=True):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6)
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert [layer.forward_layer.name, layer.backward_layer.name] == ["forward_gru", "backward_gru"]
    assert layer.weights == layer.forward_layer.weights + layer.backward_layer.weights


def test_bidirectional_states_initial_states_and_masked_zeros():
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = layers.Bidirectional(layers.LSTM(2, return_sequences=True, return_state=True))
    states = [RNG.normal(size=(2, 2)).astype(np.float32) for _ in range(4)]
    out, fh, fc, bh, bc = layer(x, initial_state=states, mask=mask)
    ref_f, ref_fh, ref_fc = layer.forward_layer(x, initial_state=states[:2], mask=mask)
    ref_b, ref_bh, ref_bc = layer.backward_layer(x, initial_state=states[2:], mask=mask)
    expected = np.concatenate([ref_f.numpy(), _flip(ref_b)], -1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    for ours, theirs in ((fh, ref_fh), (fc, ref_fc), (bh, ref_bh), (bc, ref_bc)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert np.all(out.numpy()[0, 3:] == 0)  # masked steps output zeros in both directions
    assert layer.forward_layer.zero_output_for_mask and layer.backward_layer.zero_output_for_mask
    np.testing.assert_array_equal(np.asarray(out._mask), mask)
    assert fh._mask is None


def test_bidirectional_with_its_own_backward_layer_round_trips():
    backward = layers.SimpleRNN(3, go_backwards=True, activation="relu", name="back")
    layer = layers.Bidirectional(layers.SimpleRNN(3), backward_layer=backward, merge_mode="sum")
    layer(np.ones((2, 4, 2), np.float32))
    assert layer.backward_layer is backward
    config = json.loads(json.dumps(layer.get_config()))
    restored = layers.Bidirectional.from_config(config)
    assert restored.get_config() == config
    assert restored.backward_layer.activation is keras.activations.relu


def test_stateful_bidirectional_resets_both_directions():
    layer = layers.Bidirectional(layers.GRU(2, stateful=True))
    x = np.ones((2, 3, 2), np.float32)
    first = layer(x).numpy()
    assert not np.allclose(layer(x).numpy(), first)
    assert len(layer.states) == 2
    layer.reset_state()
    np.testing.assert_allclose(layer(x).numpy(), first, rtol=1e-6)
    with pytest.raises(AttributeError, match="not stateful"):
        layers.Bidirectional(layers.GRU(2)).reset_state()


# ---- TimeDistributed ---------------------------------------------------------------------------


class MaskRecorder(layers.Layer):
    """Returns its input, keeping the mask it was called with."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        self.seen = mask
        return inputs


def test_time_distributed_applies_the_layer_to_every_step_and_passes_masks():
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    layer = layers.TimeDistributed(layers.Dense(5))
    out = layer(x).numpy()
    for t in range(4):
        np.testing.assert_allclose(out[:, t], layer.layer(x[:, t]).numpy(), rtol=1e-6)
    mask = np.array([[1, 1, 0, 0], [1, 0, 1, 1]], bool)
    recorder = layers.TimeDistributed(MaskRecorder())
    result = recorder(x, mask=mask)
    np.testing.assert_array_equal(np.asarray(recorder.layer.seen), mask.reshape(-1))
    np.testing.assert_array_equal(np.asarray(result._mask), mask)


def test_time_distributed_conv_and_config():
    layer = layers.TimeDistributed(layers.Conv2D(2, 3, padding="same"))
    x = RNG.normal(size=(2, 3, 5, 5, 1)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 3, 5, 5, 2)
    np.testing.assert_allclose(out.numpy()[:, 1], layer.layer(x[:, 1]).numpy(), rtol=1e-5)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["layer"]["class_name"] == "Conv2D"
    restored = layers.TimeDistributed.from_config(config).get_config()
    assert json.loads(json.dumps(restored)) == config
