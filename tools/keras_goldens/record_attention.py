"""Record golden values for normalization and attention layers from real Keras 3.

Run it in the keras venv (never a kerasish dependency); see README.md next to this file:

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tools/keras_goldens/record_attention.py \
        --out tests/fixtures/keras_goldens

Small functional models (LayerNormalization default / rms_scaling / multi-axis,
UnitNormalization, MultiHeadAttention self- and cross-attention, with an attention mask, a
causal mask and returned scores, Attention dot / scaled / concat / masked, AdditiveAttention)
get INITIAL WEIGHTS MADE WITH NUMPY (`init_weights`) through `set_weights`; the script records
`predict` and a few `SGD` + mse `train_on_batch` steps (losses and every weight after each).
Output: `attention.npz` (arrays `<case>/<name>`) and `attention.json` (per case: the builder's
source, layer names and classes, weight paths and shapes in `get_weights()` order, losses).
Written by `golden_io.record` (ints as int32, the rest, masks included, as float32), byte-for-
byte the same on every run.
"""

import inspect
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from golden_io import record  # noqa: E402  (beside this script)
from keras import layers  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"record_attention.py needs KERAS_BACKEND=jax, got {keras.backend.backend()!r}")


def init_weights(specs, seed):
    """Initial weights from numpy only, drawn in order from `np.random.default_rng(seed)`:
    a weight with 2+ dims uniform in +-sqrt(6 / (fan_in + fan_out)) (fan_in = prod(shape[:-1]),
    fan_out = shape[-1]); a `gamma` 1 + normal * 0.1; a scalar `scale` or
    `concat_score_weight` 1 + normal * 0.2; any other weight normal * 0.1."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in specs:
        shape = tuple(shape)
        if len(shape) >= 2:
            limit = np.sqrt(6.0 / (int(np.prod(shape[:-1])) + shape[-1]))
            w = rng.uniform(-limit, limit, size=shape)
        elif name == "gamma":
            w = 1.0 + rng.normal(size=shape) * 0.1
        elif shape == () and name in ("scale", "concat_score_weight"):
            w = 1.0 + rng.normal() * 0.2
        else:
            w = rng.normal(size=shape) * 0.1
        out.append(np.asarray(w, dtype=np.float32))
    return out


def fresh():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


# ---------------------------------------------------------------- models


def model_layer_norm():
    x = keras.Input((5, 8))
    h = layers.Dense(8)(x)
    h = layers.LayerNormalization()(h)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_layer_norm_rms():
    x = keras.Input((5, 8))
    h = layers.Dense(8)(x)
    h = layers.LayerNormalization(rms_scaling=True, epsilon=1e-2)(h)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_layer_norm_axes():
    x = keras.Input((4, 6))
    h = layers.Dense(6)(x)
    h = layers.LayerNormalization(axis=[1, 2])(h)
    h = layers.LayerNormalization(axis=1, center=False)(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_unit_norm():
    x = keras.Input((6,))
    h = layers.Dense(4)(x)
    h = layers.UnitNormalization()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_mha_self():
    x = keras.Input((5, 8))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_mha_cross():
    # Keras 3.15's fused path on JAX fails when value_dim != key_dim (it reshapes the output
    # to the query's shape): returning the scores takes the explicit path.
    q = keras.Input((4, 8))
    v = keras.Input((6, 5))
    k = keras.Input((6, 3))
    h, _ = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, output_shape=(7,))(
        q, v, key=k, return_attention_scores=True
    )
    h = layers.Flatten()(h)
    return keras.Model([q, v, k], layers.Dense(2)(h))


def model_mha_attention_mask():
    x = keras.Input((5, 6))
    m = keras.Input((5, 5), dtype="int32")
    h = layers.MultiHeadAttention(num_heads=3, key_dim=2, use_bias=False)(x, x, attention_mask=m)
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model([x, m], layers.Dense(2)(h))


def model_mha_causal():
    x = keras.Input((6, 4))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x, use_causal_mask=True)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(2)(h))


def model_mha_scores():
    # Masking gives the query a mask (and, through Keras' automatic mask arguments, the value
    # too); returning the scores makes Keras take its explicit softmax path.
    x = keras.Input((5, 4))
    masked = layers.Masking(0.0)(x)
    out, scores = layers.MultiHeadAttention(num_heads=2, key_dim=3)(
        masked, masked, return_attention_scores=True
    )
    h = layers.Concatenate()([layers.Flatten()(out), layers.Flatten()(scores)])
    return keras.Model(x, layers.Dense(2)(h))


def model_attention_dot():
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    h = layers.Attention()([q, v])
    h = layers.Flatten()(h)
    return keras.Model([q, v], layers.Dense(2)(h))


def model_attention_scaled():
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    h = layers.Attention(use_scale=True)([q, v], use_causal_mask=True)
    h = layers.Flatten()(h)
    return keras.Model([q, v], layers.Dense(2)(h))


def model_attention_concat():
    q = keras.Input((3, 4))
    v = keras.Input((5, 2))
    k = keras.Input((5, 4))
    h = layers.Attention(use_scale=True, score_mode="concat")([q, v, k])
    h = layers.Flatten()(h)
    return keras.Model([q, v, k], layers.Dense(2)(h))


def model_attention_masked():
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    qm = keras.Input((3,), dtype="bool")
    vm = keras.Input((5,), dtype="bool")
    out, scores = layers.Attention(use_scale=True)(
        [q, v], mask=[qm, vm], return_attention_scores=True
    )
    h = layers.Concatenate()([layers.Flatten()(out), layers.Flatten()(scores)])
    return keras.Model([q, v, qm, vm], layers.Dense(2)(h))


def model_additive():
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    vm = keras.Input((5,), dtype="bool")
    h = layers.AdditiveAttention()([q, v], mask=[None, vm])
    h = layers.Flatten()(h)
    return keras.Model([q, v, vm], layers.Dense(2)(h))


def _padded(rng, shape):
    """Float data whose trailing steps are zero in some samples (for Masking)."""
    x = rng.normal(size=shape).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, 4:] = 0.0
    return x


def _attention_mask(rng, shape):
    m = (rng.uniform(size=shape) > 0.4).astype(np.int32)
    m[..., 0] = 1  # every query sees at least one key
    return m


def _step_mask(rng, shape):
    m = rng.uniform(size=shape) > 0.3
    m[:, 0] = True
    return m


# case: (builder, input makers, seed, steps)
CASES = {
    "layer_norm": (model_layer_norm, [lambda r: r.normal(size=(4, 5, 8))], 21, 3),
    "layer_norm_rms": (model_layer_norm_rms, [lambda r: r.normal(size=(4, 5, 8)) + 0.5], 22, 2),
    "layer_norm_axes": (model_layer_norm_axes, [lambda r: r.normal(size=(4, 4, 6))], 23, 2),
    "unit_norm": (model_unit_norm, [lambda r: r.normal(size=(4, 6))], 24, 2),
    "mha_self": (model_mha_self, [lambda r: r.normal(size=(3, 5, 8))], 25, 3),
    "mha_cross": (
        model_mha_cross,
        [
            lambda r: r.normal(size=(3, 4, 8)),
            lambda r: r.normal(size=(3, 6, 5)),
            lambda r: r.normal(size=(3, 6, 3)),
        ],
        26,
        2,
    ),  # fmt: skip
    "mha_attention_mask": (
        model_mha_attention_mask,
        [lambda r: r.normal(size=(3, 5, 6)), lambda r: _attention_mask(r, (3, 5, 5))],
        27,
        2,
    ),
    "mha_causal": (model_mha_causal, [lambda r: r.normal(size=(3, 6, 4))], 28, 2),
    "mha_scores": (model_mha_scores, [lambda r: _padded(r, (3, 5, 4))], 29, 2),
    "attention_dot": (
        model_attention_dot,
        [lambda r: r.normal(size=(3, 3, 4)), lambda r: r.normal(size=(3, 5, 4))],
        30,
        2,
    ),
    "attention_scaled": (
        model_attention_scaled,
        [lambda r: r.normal(size=(3, 3, 4)), lambda r: r.normal(size=(3, 5, 4))],
        31,
        2,
    ),
    "attention_concat": (
        model_attention_concat,
        [
            lambda r: r.normal(size=(3, 3, 4)),
            lambda r: r.normal(size=(3, 5, 2)),
            lambda r: r.normal(size=(3, 5, 4)),
        ],
        32,
        2,
    ),  # fmt: skip
    "attention_masked": (
        model_attention_masked,
        [
            lambda r: r.normal(size=(3, 3, 4)),
            lambda r: r.normal(size=(3, 5, 4)),
            lambda r: _step_mask(r, (3, 3)),
            lambda r: _step_mask(r, (3, 5)),
        ],
        33,
        2,
    ),  # fmt: skip
    "additive": (
        model_additive,
        [
            lambda r: r.normal(size=(3, 3, 4)),
            lambda r: r.normal(size=(3, 5, 4)),
            lambda r: _step_mask(r, (3, 5)),
        ],
        34,
        2,
    ),  # fmt: skip
}


def _cast(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a
    return a.astype(np.int32) if a.dtype.kind in "iu" else a.astype(np.float32)


def run_case(name):
    builder, makers, seed, steps = CASES[name]
    fresh()
    rng = np.random.default_rng(1000 + seed)
    xs = [_cast(make(rng)) for make in makers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rms_scaling's deprecation notice
        model = builder()
    specs = [(w.name, tuple(w.shape)) for w in model.weights]
    init = init_weights(specs, seed)
    model.set_weights(init)
    feed = xs if len(xs) > 1 else xs[0]
    arrays = {f"x{i}": x for i, x in enumerate(xs)}
    arrays.update({f"init_w{i}": w for i, w in enumerate(init)})
    arrays["predict"] = model.predict(feed, verbose=0)
    y = rng.normal(size=arrays["predict"].shape).astype(np.float32)
    arrays["y"] = y
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    losses = []
    for step in range(1, steps + 1):
        losses.append(float(np.float32(model.train_on_batch(feed, y))))
        for i, w in enumerate(model.get_weights()):
            arrays[f"step{step}_w{i}"] = np.asarray(w, np.float32)
    arrays["predict_after"] = model.predict(feed, verbose=0)
    info = {
        "seed": seed,
        "n_inputs": len(xs),
        "n_weights": len(init),
        "train_on_batch": losses,
        "builder_source": inspect.getsource(builder),
        "layers": [layer.name for layer in model.layers],
        "layer_classes": [type(layer).__name__ for layer in model.layers],
        "weights": [{"path": w.path, "shape": list(w.shape)} for w in model.weights],
    }
    if name == "mha_scores":
        info["keras_fused_path_differs"] = _fused_path_difference(model, feed)
    return arrays, info


def _fused_path_difference(model, x):
    """How Keras' fused path (no scores returned, no dropout) differs on fully masked query
    rows: the largest output difference on padded and on unpadded query positions."""
    mha = next(layer for layer in model.layers if isinstance(layer, layers.MultiHeadAttention))
    masked = layers.Masking(0.0)(x)
    scored, _ = mha(masked, masked, return_attention_scores=True)
    masked = layers.Masking(0.0)(x)  # Keras' call removed the masks from the tensors it got
    fused = mha(masked, masked)
    padded = ~np.any(x != 0.0, axis=-1)
    diff = np.abs(np.asarray(scored) - np.asarray(fused)).max(axis=-1)
    return {"padded_rows": float(diff[padded].max()), "other_rows": float(diff[~padded].max())}


# ---------------------------------------------------------------- writing


def main(argv=None):
    index = {
        "description": "Normalization and attention goldens from real Keras; see "
        "tools/keras_goldens/record_attention.py.",
        "init_weights_source": inspect.getsource(init_weights),
        "run_case_source": inspect.getsource(run_case),
    }
    record("attention", run_case, CASES, index, argv)


if __name__ == "__main__":
    main()
