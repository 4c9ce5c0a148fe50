"""MultiHeadAttention, Attention and AdditiveAttention: the layer harness, a numpy reference
with padding, attention and causal masks, attention over other axes, dropout, configs and
errors (tests/api/layers/test_attention_goldens.py compares them with Keras)."""

import numpy as np
import pytest

import kerasish as keras
from backend import GradientTape, compiler, ops
from backend.tensor import Tensor
from kerasish import layers
from kerasish.testing import run_layer_test

rng = np.random.default_rng(9)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _mha_reference(layer, query, value, mask=None):
    """Keras' multi-head attention in numpy from the layer's weights; `mask` (B, T, S)."""
    wq, bq, wk, bk, wv, bv, wo, bo = (w.astype(np.float64) for w in layer.get_weights())
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("bsd,dnh->bsnh", value, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    scores = np.einsum("btnh,bsnh->bnts", q / np.sqrt(layer.key_dim), k)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    probs = _softmax(scores)
    if mask is not None:
        probs = np.where(mask[:, None], probs, 0.0)
    out = np.einsum("bnts,bsnh->btnh", probs, v)
    return np.einsum("btnh,nhd->btd", out, wo) + bo, probs


# ---- MultiHeadAttention ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,shapes,out_shape,call_kwargs",
    [
        ({"num_heads": 2, "key_dim": 3}, [(2, 5, 4), (2, 5, 4)], (2, 5, 4), {}),
        ({"num_heads": 2, "key_dim": 3, "value_dim": 4, "output_shape": (2, 3)},
         [(2, 5, 4), (2, 6, 3)], (2, 5, 2, 3), {"use_causal_mask": True}),
        ({"num_heads": 1, "key_dim": 2, "use_bias": False, "use_gate": True},
         [(2, 4, 3), (2, 4, 3)], (2, 4, 3), {}),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": (1, 2)},
         [(2, 3, 2, 4), (2, 3, 2, 4)], (2, 3, 2, 4), {}),
    ],
)  # fmt: skip
def test_mha_harness(kwargs, shapes, out_shape, call_kwargs):
    use_bias = kwargs.get("use_bias", True)
    weights = (4 + kwargs.get("use_gate", False)) * (2 if use_bias else 1)
    run_layer_test(layers.MultiHeadAttention, kwargs, shapes, out_shape, weights,
                   call_kwargs=call_kwargs, positional_inputs=True)  # fmt: skip


def test_mha_padding_masks_on_the_inputs_match_numpy():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="random_normal")
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], bool)
    query = Tensor(x)
    query._mask = Tensor(keep)
    out = layer(query, query)  # the query's mask and the value's (the same tensor)
    expected, _ = _mha_reference(layer, x.astype(np.float64), x.astype(np.float64),
                                 keep[:, :, None] & keep[:, None, :])  # fmt: skip
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out._mask.numpy(), keep)
    # A padded query position attends to nothing: its output is the output bias.
    np.testing.assert_allclose(out.numpy()[0, 3], layer.get_weights()[-1], rtol=1e-6)


def test_mha_attention_and_causal_masks_combine_with_value_mask():
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=2)
    q = rng.standard_normal((2, 4, 5)).astype(np.float32)
    v = rng.standard_normal((2, 4, 3)).astype(np.float32)
    attention_mask = rng.uniform(size=(2, 4, 4)) > 0.3
    value_mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    out, scores = layer(q, v, value_mask=value_mask, attention_mask=attention_mask,
                        use_causal_mask=True, return_attention_scores=True)  # fmt: skip
    mask = attention_mask & value_mask[:, None, :] & np.tril(np.ones((4, 4), bool))[None]
    expected, probs = _mha_reference(layer, q.astype(np.float64), v.astype(np.float64), mask)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores.numpy(), probs, rtol=1e-5, atol=1e-7)
    assert scores.shape == (2, 3, 4, 4)


def test_mha_compiled_training_matches_eager_with_masks():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    mask = rng.uniform(size=(2, 5, 5)) > 0.3
    mask[..., 0] = True
    layer(x, x)

    def step(data, m):
        with GradientTape() as tape:
            loss = ops.mean(ops.square(layer(data, data, attention_mask=m, use_causal_mask=True)))
        return [loss, *tape.gradient(loss, layer.trainable_weights)]

    compiled = compiler.function(step)(x, mask)
    eager = step(Tensor(x), Tensor(mask))
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-7)


def test_mha_attention_over_other_axes_matches_flattened_and_per_row_attention():
    x = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    both = layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(1, 2))
    out = both(x, x).numpy()
    flat = x.reshape(2, 12, 6).astype(np.float64)
    np.testing.assert_allclose(out, _mha_reference(both, flat, flat)[0].reshape(out.shape),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    inner = layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=2)
    out = inner(x, x).numpy()
    for row in range(3):
        part = x[:, row].astype(np.float64)
        np.testing.assert_allclose(out[:, row], _mha_reference(inner, part, part)[0],
                                   rtol=1e-5, atol=1e-6)  # fmt: skip


def test_mha_dropout_applies_to_probabilities_in_training_only():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=3)
    x = rng.standard_normal((4, 6, 4)).astype(np.float32)
    inference, probs = layer(x, x, return_attention_scores=True)
    np.testing.assert_allclose(inference.numpy(), _mha_reference(layer, x, x)[0], rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    trained = layer(x, x, training=True).numpy()
    assert not np.allclose(trained, inference.numpy())
    # The same draw: dropped probabilities reproduced from the layer's own state differ per
    # call, so the outputs of two training calls differ too.
    assert not np.allclose(trained, layer(x, x, training=True).numpy())


def test_mha_in_a_functional_model_with_unknown_lengths():
    q, v = keras.Input((None, 8)), keras.Input((None, 6))
    out = layers.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=5)(
        q, v, use_causal_mask=True
    )
    assert out.shape == (None, None, 5)
    model = keras.Model([q, v], layers.Dense(1)(out))
    model.compile(optimizer="adam", loss="mse")
    for length in (4, 7):
        xq, xv = rng.standard_normal((3, length, 8)), rng.standard_normal((3, length, 6))
        model.train_on_batch([xq, xv], rng.standard_normal((3, length, 1)))
        assert model.predict([xq, xv], verbose=0).shape == (3, length, 1)


def test_mha_config_has_keras_keys_and_round_trips():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=4, output_shape=3, seed=1,
                                      attention_axes=-2)  # fmt: skip
    config = layer.get_config()
    assert set(config) == {
        "name", "trainable", "dtype", "num_heads", "key_dim", "value_dim", "dropout", "use_bias",
        "use_gate", "output_shape", "attention_axes", "sliding_window", "kernel_initializer",
        "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "bias_constraint", "seed",
    }  # fmt: skip
    assert config["output_shape"] == (3,) and config["value_dim"] == 4
    assert config["attention_axes"] == (-2,)
    assert layers.MultiHeadAttention.from_config(config).get_config() == config


def test_mha_errors_name_the_layer_and_argument():
    with pytest.raises(ValueError, match=r"`num_heads` must be a positive integer. Received: "
                                         r"num_heads=0"):  # fmt: skip
        layers.MultiHeadAttention(num_heads=0, key_dim=2)
    with pytest.raises(ValueError, match=r"`key_dim` must be a positive integer"):
        layers.MultiHeadAttention(num_heads=1, key_dim=2.5)
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
        layers.MultiHeadAttention(num_heads=1, key_dim=2, dropout=1.0)
    with pytest.raises(ValueError, match=r"`output_shape` must be a positive int"):
        layers.MultiHeadAttention(num_heads=1, key_dim=2, output_shape="wide")
    layer = layers.MultiHeadAttention(num_heads=1, key_dim=2, name="mha")
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"'mha' needs `value`"):
        layer(x)
    with pytest.raises(ValueError, match=r"'mha': `value` and `key` must have the same dims "
                                         r"except the last"):  # fmt: skip
        layer(x, x, key=np.ones((2, 5, 4), np.float32))
    layer(x, x)
    with pytest.raises(ValueError, match=r"'mha' was built for `query` of shape \(2, 3, 4\). "
                                         r"Received: query shape \(2, 3, 5\)"):  # fmt: skip
        layer(np.ones((2, 3, 5), np.float32), x)
    with pytest.raises(ValueError, match=r"`attention_axes` must be distinct axes"):
        layers.MultiHeadAttention(num_heads=1, key_dim=2, attention_axes=3)(x, x)
    with pytest.raises(ValueError, match=r"`query` must have rank >= 3"):
        layers.MultiHeadAttention(num_heads=1, key_dim=2)(np.ones((2, 4)), np.ones((2, 4)))


# ---- Attention and AdditiveAttention ---------------------------------------------------------


def _attention_reference(q, v, k, scores_fn, q_mask=None, v_mask=None, causal=False):
    scores = scores_fn(q, k)
    mask = np.ones(scores.shape, bool)
    if v_mask is not None:
        mask &= v_mask[:, None, :]
    if causal:
        mask &= np.tril(np.ones(scores.shape[-2:], bool))[None]
    # Masked scores are shifted by 1e9 in float32, as the layer computes them: a row with
    # nothing visible becomes (about) uniform.
    shifted = (scores.astype(np.float32) - np.float32(1e9)).astype(np.float64)
    weights = _softmax(np.where(mask, scores, shifted))
    out = weights @ v
    if q_mask is not None:
        out = np.where(q_mask[..., None], out, 0.0)
    return out, weights


@pytest.mark.parametrize(
    "cls,kwargs,weights",
    [(layers.Attention, {}, 0), (layers.Attention, {"use_scale": True}, 1),
     (layers.Attention, {"score_mode": "concat"}, 1), (layers.AdditiveAttention, {}, 1),
     (layers.AdditiveAttention, {"use_scale": False}, 0)],
)  # fmt: skip
def test_attention_harness(cls, kwargs, weights):
    run_layer_test(cls, kwargs, [(2, 3, 4), (2, 5, 4)], (2, 3, 4), weights,
                   call_kwargs={"use_causal_mask": True})  # fmt: skip
    run_layer_test(cls, kwargs, [(2, 3, 4), (2, 5, 2), (2, 5, 4)], (2, 3, 2), weights)


@pytest.mark.parametrize("mode", ["dot", "concat", "additive"])
def test_attention_with_masks_matches_numpy(mode):
    q, v, k = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 3), (2, 5, 4)))
    q_mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    v_mask = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], bool)  # a row with nothing visible
    if mode == "additive":
        layer = layers.AdditiveAttention()
    else:
        layer = layers.Attention(use_scale=True, score_mode=mode)
    out, weights = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True,
                         use_causal_mask=True)  # fmt: skip
    scale = np.asarray(layer.get_weights()[0], np.float64) if layer.weights else 1.0
    if mode == "dot":

        def scores_fn(a, b):
            return a @ b.transpose(0, 2, 1) * scale
    elif mode == "concat":

        def scores_fn(a, b):
            return np.tanh(scale * (a[:, :, None] + b[:, None])).sum(-1)
    else:

        def scores_fn(a, b):
            return (scale * np.tanh(a[:, :, None] + b[:, None])).sum(-1)

    expected, expected_weights = _attention_reference(q, v, k, scores_fn, q_mask, v_mask, True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out._mask.numpy(), q_mask)


def test_attention_dropout_and_masks_from_the_inputs():
    q, v = Tensor(rng.standard_normal((2, 3, 4)).astype(np.float32)), Tensor(
        rng.standard_normal((2, 5, 4)).astype(np.float32))  # fmt: skip
    v._mask = Tensor(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool))
    layer = layers.Attention(dropout=0.5, seed=2)
    out, weights = layer([q, v], return_attention_scores=True)
    np.testing.assert_array_equal(weights.numpy()[0, :, 3:], 0.0)  # the value's own mask
    assert not np.allclose(layer([q, v], training=True).numpy(), out.numpy())


def test_attention_configs_and_errors():
    config = layers.AdditiveAttention(dropout=0.1).get_config()
    assert set(config) == {"name", "trainable", "dtype", "use_scale", "dropout", "seed"}
    assert layers.AdditiveAttention.from_config(config).get_config() == config
    assert layers.Attention(score_mode="concat").get_config()["score_mode"] == "concat"
    with pytest.raises(ValueError, match=r"Attention: `score_mode` must be 'dot' or 'concat'. "
                                         r"Received: score_mode='sum'"):  # fmt: skip
        layers.Attention(score_mode="sum")
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"Attention 'att' must be called on a list \[query, "
                                         r"value\]"):  # fmt: skip
        layers.Attention(name="att")(x)
    same_dim = r"`query` and `key` must have the same last dim. Received: query shape \(2, 3, 4\)"
    with pytest.raises(ValueError, match=same_dim):
        layers.Attention()([x, np.ones((2, 5, 3), np.float32)])
    with pytest.raises(ValueError, match=r"`value` and `key` must have the same number of steps"):
        layers.Attention()([x, np.ones((2, 5, 4), np.float32), np.ones((2, 6, 4), np.float32)])
    with pytest.raises(ValueError, match=r"`mask` must be a list \[query_mask, value_mask\]"):
        layers.Attention()([x, x], mask=np.ones((2, 3), bool))


def test_padding_masks_flow_from_an_embedding_through_attention_and_layer_norm():
    tokens = keras.Input((None,), dtype="int32")
    x = layers.Embedding(20, 8, mask_zero=True)(tokens)
    h = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    h = layers.LayerNormalization()(layers.add([x, h]))
    assert h._mask is not None
    pooled = layers.GlobalAveragePooling1D()(layers.UnitNormalization()(h))
    model = keras.Model(tokens, layers.Dense(1)(pooled))
    data = np.array([[3, 5, 7, 0, 0], [2, 9, 4, 6, 1]], np.int32)
    out = model.predict(data, verbose=0)
    # The padding of the first sequence changes nothing: the masked steps are not attended to
    # and not pooled.
    longer = np.concatenate([data, np.zeros((2, 3), np.int32)], axis=1)
    np.testing.assert_allclose(model.predict(longer, verbose=0)[0], out[0], rtol=1e-5, atol=1e-6)
