"""Normalization and attention layers against numbers recorded from real Keras 3.15
(tests/fixtures/keras_goldens/attention.*, tools/keras_goldens/record_attention.py): the same
models, numpy initial weights and inputs give the same layer order, weight paths and shapes,
predictions, train_on_batch losses (SGD, mse) and weights after each step, compiled and eager."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "attention.json").read_text())["cases"]
DATA = np.load(FIXTURES / "attention.npz")
TOL = {"rtol": 1e-5, "atol": 1e-5}
# Flatten drops the attention outputs' masks, as in the recorded Keras models (Keras warns too).
pytestmark = pytest.mark.filterwarnings("ignore:Layer 'flatten.*does not support masking")


def _layer_norm():
    x = keras.Input((5, 8))
    h = layers.Dense(8)(x)
    h = layers.LayerNormalization()(h)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def _layer_norm_rms():
    x = keras.Input((5, 8))
    h = layers.Dense(8)(x)
    with pytest.warns(UserWarning, match="rms_scaling=True is deprecated"):
        h = layers.LayerNormalization(rms_scaling=True, epsilon=1e-2)(h)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def _layer_norm_axes():
    x = keras.Input((4, 6))
    h = layers.Dense(6)(x)
    h = layers.LayerNormalization(axis=[1, 2])(h)
    h = layers.LayerNormalization(axis=1, center=False)(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(2)(h))


def _unit_norm():
    x = keras.Input((6,))
    h = layers.Dense(4)(x)
    h = layers.UnitNormalization()(h)
    return keras.Model(x, layers.Dense(2)(h))


def _mha_self():
    x = keras.Input((5, 8))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def _mha_cross():
    q, v, k = keras.Input((4, 8)), keras.Input((6, 5)), keras.Input((6, 3))
    h, _ = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, output_shape=(7,))(
        q, v, key=k, return_attention_scores=True
    )
    return keras.Model([q, v, k], layers.Dense(2)(layers.Flatten()(h)))


def _mha_attention_mask():
    x, m = keras.Input((5, 6)), keras.Input((5, 5), dtype="int32")
    h = layers.MultiHeadAttention(num_heads=3, key_dim=2, use_bias=False)(x, x, attention_mask=m)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model([x, m], layers.Dense(2)(h))


def _mha_causal():
    x = keras.Input((6, 4))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x, use_causal_mask=True)
    return keras.Model(x, layers.Dense(2)(layers.Flatten()(h)))


def _mha_scores():
    x = keras.Input((5, 4))
    masked = layers.Masking(0.0)(x)
    out, scores = layers.MultiHeadAttention(num_heads=2, key_dim=3)(
        masked, masked, return_attention_scores=True
    )
    h = layers.Concatenate()([layers.Flatten()(out), layers.Flatten()(scores)])
    return keras.Model(x, layers.Dense(2)(h))


def _attention_dot():
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    h = layers.Flatten()(layers.Attention()([q, v]))
    return keras.Model([q, v], layers.Dense(2)(h))


def _attention_scaled():
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    h = layers.Flatten()(layers.Attention(use_scale=True)([q, v], use_causal_mask=True))
    return keras.Model([q, v], layers.Dense(2)(h))


def _attention_concat():
    q, v, k = keras.Input((3, 4)), keras.Input((5, 2)), keras.Input((5, 4))
    h = layers.Flatten()(layers.Attention(use_scale=True, score_mode="concat")([q, v, k]))
    return keras.Model([q, v, k], layers.Dense(2)(h))


def _attention_masked():
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    qm, vm = keras.Input((3,), dtype="bool"), keras.Input((5,), dtype="bool")
    out, scores = layers.Attention(use_scale=True)(
        [q, v], mask=[qm, vm], return_attention_scores=True
    )
    h = layers.Concatenate()([layers.Flatten()(out), layers.Flatten()(scores)])
    return keras.Model([q, v, qm, vm], layers.Dense(2)(h))


def _additive():
    q, v, vm = keras.Input((3, 4)), keras.Input((5, 4)), keras.Input((5,), dtype="bool")
    h = layers.Flatten()(layers.AdditiveAttention()([q, v], mask=[None, vm]))
    return keras.Model([q, v, vm], layers.Dense(2)(h))


BUILDERS = {
    "layer_norm": _layer_norm,
    "layer_norm_rms": _layer_norm_rms,
    "layer_norm_axes": _layer_norm_axes,
    "unit_norm": _unit_norm,
    "mha_self": _mha_self,
    "mha_cross": _mha_cross,
    "mha_attention_mask": _mha_attention_mask,
    "mha_causal": _mha_causal,
    "mha_scores": _mha_scores,
    "attention_dot": _attention_dot,
    "attention_scaled": _attention_scaled,
    "attention_concat": _attention_concat,
    "attention_masked": _attention_masked,
    "additive": _additive,
}


def _arr(case, name):
    return DATA[f"{case}/{name}"]


def _inputs(case):
    xs = [_arr(case, f"x{i}") for i in range(RECORDED[case]["n_inputs"])]
    return xs if len(xs) > 1 else xs[0]


def _weights(case, prefix):
    return [_arr(case, f"{prefix}_w{i}") for i in range(RECORDED[case]["n_weights"])]


def _built(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    model.set_weights(_weights(case, "init"))
    return model


def test_every_recorded_case_is_built_here():
    assert sorted(BUILDERS) == sorted(RECORDED)


@pytest.mark.parametrize("case", list(BUILDERS))
def test_layers_and_weights_match_keras(case):
    keras.backend.clear_session()
    model = BUILDERS[case]()
    recorded = RECORDED[case]
    assert [type(layer).__name__ for layer in model.layers] == recorded["layer_classes"]
    assert [layer.name for layer in model.layers] == recorded["layers"]
    assert [w.path for w in model.weights] == [w["path"] for w in recorded["weights"]]
    assert [list(w.shape) for w in model.weights] == [w["shape"] for w in recorded["weights"]]


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
@pytest.mark.parametrize("case", list(BUILDERS))
def test_predict_and_train_on_batch_match_keras(case, run_eagerly):
    model = _built(case)
    x = _inputs(case)
    np.testing.assert_allclose(model.predict(x, verbose=0), _arr(case, "predict"), **TOL)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse",
                  run_eagerly=run_eagerly)  # fmt: skip
    for k, expected in enumerate(RECORDED[case]["train_on_batch"], start=1):
        loss = model.train_on_batch(x, _arr(case, "y"))
        np.testing.assert_allclose(loss, expected, **TOL, err_msg=f"step {k} loss")
        for ours, theirs, info in zip(model.get_weights(), _weights(case, f"step{k}"),
                                      RECORDED[case]["weights"], strict=True):  # fmt: skip
            np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"step {k}: {info['path']}")
    np.testing.assert_allclose(model.predict(x, verbose=0), _arr(case, "predict_after"), **TOL)
