"""Losses against numpy references: values, reductions, sample weights, traced, get()."""

import json

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler
from kerasish import losses

EPS = 1e-7
RNG = np.random.default_rng(0)
Y_TRUE_REG = RNG.normal(size=(6, 3)).astype(np.float32)
Y_PRED_REG = RNG.normal(size=(6, 3)).astype(np.float32)
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0], np.float32)
LOGITS = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = np.array([0, 3, 1, 2, 2, 0], np.int32)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_mse(t, p):
    return ((t - p) ** 2).mean(-1)


def np_bce(t, p, smoothing=0.0):
    t = t * (1 - smoothing) + 0.5 * smoothing
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def np_cce(t, p, smoothing=0.0):
    t = t * (1 - smoothing) + smoothing / t.shape[-1]
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(t * np.log(p)).sum(-1)


def reduce(values, weights=None, reduction="sum_over_batch_size"):
    if weights is not None:
        values = values * weights
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    if reduction == "mean_with_sample_weight":
        return values.sum() / weights.sum()
    return values.sum() / values.size


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_reductions_and_weights(reduction, weighted):
    sw = WEIGHTS if weighted else None
    got = losses.MeanSquaredError(reduction=reduction)(Y_TRUE_REG, Y_PRED_REG, sample_weight=sw)
    want = reduce(np_mse(Y_TRUE_REG, Y_PRED_REG), sw, reduction)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_mean_with_sample_weight_and_none_alias():
    loss = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    got = loss(Y_TRUE_REG, Y_PRED_REG, sample_weight=WEIGHTS)
    want = reduce(np_mse(Y_TRUE_REG, Y_PRED_REG), WEIGHTS, "mean_with_sample_weight")
    np.testing.assert_allclose(float(got), want, rtol=1e-6)
    assert losses.MeanSquaredError(reduction=None).reduction == "none"
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


def test_mse_rank_fixup_and_shape_error():
    y = np.arange(4, dtype=np.float32)
    p = (y + 1.0).reshape(4, 1)
    assert float(losses.MeanSquaredError()(y, p)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(4, 3\).*\(4, 2\)"):
        losses.mean_squared_error(np.zeros((4, 3)), np.zeros((4, 2)))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_crossentropy(smoothing, weighted):
    y = (RNG.random((6, 3)) > 0.5).astype(np.float32)
    p = sigmoid(LOGITS[:, :3])
    sw = WEIGHTS if weighted else None
    got = losses.BinaryCrossentropy(label_smoothing=smoothing)(y, p, sample_weight=sw)
    np.testing.assert_allclose(float(got), reduce(np_bce(y, p, smoothing), sw), rtol=1e-5)
    got = losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing)(
        y, LOGITS[:, :3], sample_weight=sw
    )
    np.testing.assert_allclose(float(got), reduce(np_bce(y, p, smoothing), sw), rtol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy(smoothing):
    y = np.eye(4, dtype=np.float32)[LABELS]
    probs = softmax(LOGITS)
    want = reduce(np_cce(y, probs, smoothing), WEIGHTS)
    got = losses.CategoricalCrossentropy(label_smoothing=smoothing)(y, probs, WEIGHTS)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    got = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)(
        y, LOGITS, WEIGHTS
    )
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_sparse_categorical_crossentropy():
    probs = softmax(LOGITS)
    want = -np.log(probs[np.arange(6), LABELS])
    for labels in (LABELS, LABELS.reshape(6, 1), LABELS.astype(np.float32)):
        got = losses.SparseCategoricalCrossentropy(reduction="none")(labels, probs)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS, WEIGHTS)
    np.testing.assert_allclose(float(got), reduce(want, WEIGHTS), rtol=1e-5)


def test_sparse_ignore_class_averages_over_the_rest():
    labels = LABELS.copy()
    labels[[1, 4]] = -1
    probs = softmax(LOGITS)
    keep = labels != -1
    want = -np.log(probs[np.arange(6)[keep], labels[keep]]).mean()
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    np.testing.assert_allclose(float(loss(labels, probs)), want, rtol=1e-5)
    traced = compiler.function(lambda t, p: loss(t, p))
    np.testing.assert_allclose(float(traced(labels, probs)), want, rtol=1e-5)


def test_sparse_labels_out_of_range():
    with pytest.raises(ValueError, match="labels"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 7]), softmax(LOGITS[:2]))


def test_traced_losses_match_eager():
    cases = [
        (losses.MeanSquaredError(), Y_TRUE_REG, Y_PRED_REG),
        (losses.BinaryCrossentropy(from_logits=True), (Y_TRUE_REG > 0).astype(np.float32),
         Y_PRED_REG),
        (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS),
    ]  # fmt: skip
    for loss, y, p in cases:
        eager = float(loss(y, p, sample_weight=WEIGHTS))
        traced = compiler.function(lambda a, b, w, loss=loss: loss(a, b, sample_weight=w))
        np.testing.assert_allclose(float(traced(y, p, WEIGHTS)), eager, rtol=1e-6)


def test_gradient_of_mse():
    w = Variable(Y_PRED_REG.copy())
    with GradientTape() as tape:
        value = losses.MeanSquaredError()(Y_TRUE_REG, w)
    (grad,) = tape.gradient(value, [w])
    np.testing.assert_allclose(np.asarray(grad), 2 * (Y_PRED_REG - Y_TRUE_REG) / 18, rtol=1e-5)


def test_get_aliases_classes_configs():
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("MSE") is losses.mean_squared_error
    assert losses.get("bce") is losses.binary_crossentropy
    for name in ("binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "mean_squared_error"):  # fmt: skip
        assert callable(losses.get(name)) and losses.get(name).__name__ == name
    assert isinstance(losses.get("SparseCategoricalCrossentropy"),
                      losses.SparseCategoricalCrossentropy)  # fmt: skip
    inst = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(inst) is inst
    assert losses.get(None) is None
    custom = lambda t, p: t - p  # noqa: E731
    assert losses.get(custom) is custom
    with pytest.raises(ValueError, match="Unknown loss.*mean_squared_error"):
        losses.get("mean_squard_error")


def test_resolve_always_gives_a_loss():
    loss = losses.resolve("mse")
    assert isinstance(loss, losses.Loss) and loss.name == "mean_squared_error"
    assert float(loss([[0.0], [0.0]], [[1.0], [3.0]], sample_weight=[1.0, 0.0])) == 0.5
    assert losses.resolve(None) is None


@pytest.mark.parametrize(
    "loss",
    [
        losses.MeanSquaredError(reduction="sum"),
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, name="b"),
        losses.CategoricalCrossentropy(axis=-1),
        losses.SparseCategoricalCrossentropy(ignore_class=0, from_logits=True),
        losses.LossFunctionWrapper(losses.mean_squared_error),
    ],
)
def test_config_round_trip_through_json(loss):
    config = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.deserialize(config)
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()
    assert losses.get({"class_name": config["class_name"], "config": config["config"]})


def test_keras_config_keys():
    config = losses.BinaryCrossentropy().get_config()
    assert config == {"name": "binary_crossentropy", "reduction": "sum_over_batch_size",
                      "from_logits": False, "label_smoothing": 0.0, "axis": -1}  # fmt: skip
    assert losses.serialize(losses.mean_squared_error)["config"] == "mean_squared_error"
    assert losses.deserialize(losses.serialize(losses.mse)) is losses.mean_squared_error
