"""Embeddings, masking and masked losses against numbers recorded from real Keras 3.15
(tests/fixtures/keras_goldens/embedding.*, tools/keras_goldens/record_embedding.py): same
models, same numpy initial weights, same data -> the same predictions, train_on_batch losses
and metrics, weights after every step, and a fit history."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "embedding.json").read_text())["cases"]
DATA = np.load(FIXTURES / "embedding.npz")
TOL = {"rtol": 1e-5, "atol": 1e-5}
VOCAB, STEPS = 12, 6


def _emb_pool():
    return keras.Sequential(
        [
            keras.Input((STEPS,)),
            layers.Embedding(VOCAB, 4, mask_zero=True),
            layers.GlobalAveragePooling1D(),
            layers.Dense(3),
        ]
    )


def _emb_steps():
    return keras.Sequential(
        [
            keras.Input((STEPS,), dtype="int32"),
            layers.Embedding(VOCAB, 5, mask_zero=True),
            layers.Dense(4),
        ]
    )


def _masking():
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.Masking(mask_value=0.0),
            layers.Dense(4, activation="tanh"),
            layers.GlobalAveragePooling1D(),
        ]
    )


def _two_inputs():
    left = keras.Input((STEPS,), dtype="int32", name="left")
    right = keras.Input((STEPS,), dtype="int32", name="right")
    a = layers.Embedding(VOCAB, 4, mask_zero=True, name="emb_left")(left)
    b = layers.Embedding(VOCAB, 4, mask_zero=True, name="emb_right")(right)
    summed = layers.add([a, b], name="sum")
    both = layers.concatenate([summed, layers.Dense(2, name="proj")(a)], name="joined")
    pooled = layers.GlobalAveragePooling1D(name="pool")(both)
    return keras.Model([left, right], layers.Dense(3, name="out")(pooled))


def _sparse_xent():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


CASES = {
    "emb_pool": (_emb_pool, lambda: keras.optimizers.SGD(0.5), _sparse_xent, None),
    "emb_steps": (_emb_steps, lambda: keras.optimizers.Adam(0.05), _sparse_xent, ["accuracy"]),
    "masking": (_masking, lambda: keras.optimizers.SGD(0.2, momentum=0.9), lambda: "mse", None),
    "two_inputs": (_two_inputs, lambda: keras.optimizers.SGD(0.5), _sparse_xent, ["accuracy"]),
}


def _arrays(case: str, prefix: str) -> list:
    count = RECORDED[case]["n_weights"]
    return [DATA[f"{case}/{prefix}_w{i}"] for i in range(count)]


def _inputs(case: str):
    xs = [DATA[f"{case}/x{i}"] for i in range(RECORDED[case]["n_inputs"])]
    return xs if len(xs) > 1 else xs[0]


def _built(case: str):
    builder, make_optimizer, make_loss, metrics = CASES[case]
    keras.backend.clear_session()
    model = builder()
    recorded = RECORDED[case]
    assert [type(layer).__name__ for layer in model.layers] == recorded["layer_classes"]
    assert [list(w.shape) for w in model.weights] == [w["shape"] for w in recorded["weights"]]
    model.set_weights(_arrays(case, "init"))
    model.compile(optimizer=make_optimizer(), loss=make_loss(), metrics=metrics)
    return model


@pytest.mark.parametrize("case", list(CASES))
def test_predictions_steps_and_weights_match_keras(case):
    model = _built(case)
    x, y = _inputs(case), DATA[f"{case}/y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), DATA[f"{case}/predict"], **TOL)
    recorded = RECORDED[case]
    for step, (trained, evaluated) in enumerate(
        zip(recorded["train_on_batch"], recorded["test_on_batch_before"], strict=True), start=1
    ):
        before = np.atleast_1d(model.test_on_batch(x, y))
        np.testing.assert_allclose(before, evaluated, err_msg=f"step {step} evaluated", **TOL)
        result = np.atleast_1d(model.train_on_batch(x, y))
        # The loss as Keras trained; the metrics as Keras evaluates the same weights: masked
        # (Keras-JAX's train step loses y_pred's mask; see test_keras_jax_train_metrics...).
        expected = [trained[0], *evaluated[1:]]
        np.testing.assert_allclose(result, expected, err_msg=f"step {step}", **TOL)
        for i, (got, want) in enumerate(zip(model.get_weights(), _arrays(case, f"step{step}"),
                                            strict=True)):  # fmt: skip
            np.testing.assert_allclose(got, want, err_msg=f"step {step} weight {i}", **TOL)
    np.testing.assert_allclose(model.predict(x, verbose=0), DATA[f"{case}/predict_after"], **TOL)


def test_fit_history_matches_keras():
    recorded = RECORDED["emb_pool"]["fit"]
    model = _built("emb_pool")
    history = model.fit(_inputs("emb_pool"), DATA["emb_pool/y"], shuffle=False, verbose=0,
                        **recorded["kwargs"])  # fmt: skip
    assert set(history.history) == set(recorded["history"])
    for key, values in recorded["history"].items():
        np.testing.assert_allclose(history.history[key], values, err_msg=key, **TOL)
    for got, want in zip(model.get_weights(), _arrays("emb_pool", "fit"), strict=True):
        np.testing.assert_allclose(got, want, **TOL)


def test_the_standalone_loss_reads_the_output_mask_as_keras():
    recorded = RECORDED["emb_steps"]
    model = _built("emb_steps")
    out = model(_inputs("emb_steps"))
    assert out._mask.numpy().astype(int).tolist() == recorded["output_mask"]
    loss = float(_sparse_xent()(DATA["emb_steps/y"], out))
    np.testing.assert_allclose(loss, recorded["standalone_loss"], **TOL)
    assert abs(loss - recorded["unmasked_mean_loss"]) > 1e-3  # the mask made a difference


def test_keras_jax_train_metrics_ignore_the_mask_and_ours_do_not():
    # What the recording shows: Keras-JAX's train_on_batch accuracy counts the padded steps
    # (y_pred comes back from jax.value_and_grad without its mask), its test_on_batch does
    # not. We mask in both, as Keras' TF and torch trainers do (docs/masking.md).
    x, y = DATA["emb_steps/x0"], DATA["emb_steps/y"]
    correct = DATA["emb_steps/predict"].argmax(-1) == y
    trained, evaluated = (RECORDED["emb_steps"][k][0][1]
                          for k in ("train_on_batch", "test_on_batch_before"))  # fmt: skip
    np.testing.assert_allclose(trained, correct.mean(), rtol=1e-6)
    np.testing.assert_allclose(evaluated, correct[x != 0].mean(), rtol=1e-6)
    model = _built("emb_steps")
    np.testing.assert_allclose(model.train_on_batch(x, y)[1], evaluated, rtol=1e-6)
