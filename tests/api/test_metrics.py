"""Metrics: accumulation, reset, sample weights, traced updates, get() and accuracy choice."""

import json

import numpy as np
import pytest

from backend import Variable, compiler
from kerasish import losses, metrics

RNG = np.random.default_rng(1)
PROBS = RNG.random((8, 4)).astype(np.float32)
LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3], np.int32)
HIT = (PROBS.argmax(-1) == LABELS).astype(np.float32)
WEIGHTS = np.array([1, 2, 0, 1, 3, 1, 1, 0.5], np.float32)


def test_mean_accumulates_and_resets():
    m = metrics.Mean()
    assert float(m.result()) == 0.0
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([[10.0, 20.0]])  # one sample whose value is the row mean, 15
    assert float(m.result()) == pytest.approx((1 + 2 + 3 + 15) / 4)
    m.reset_state()
    assert float(m.result()) == 0.0
    m.update_state([4.0, 8.0], sample_weight=[3.0, 1.0])
    assert float(m.result()) == pytest.approx(5.0)
    m.update_state(2.0, sample_weight=4)  # a scalar batch mean weighted by the batch size
    assert float(m.result()) == pytest.approx((20 + 8) / 8)


def test_sum_and_variables():
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    s.update_state([[1.0, 1.0]], sample_weight=[2.0])
    assert float(s.result()) == pytest.approx(7.0)
    m = metrics.Mean(name="loss")
    assert [v.name for v in m.variables] == ["total", "count"]
    assert all(not v.trainable for v in m.variables)
    assert m.name == "loss" and m.dtype == "float32"


def test_sparse_categorical_accuracy_over_batches():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(LABELS[:5], PROBS[:5])
    m.update_state(LABELS[5:].reshape(-1, 1), PROBS[5:])
    assert float(m.result()) == pytest.approx(HIT.mean())
    m.reset_state()
    m.update_state(LABELS, PROBS, sample_weight=WEIGHTS)
    assert float(m.result()) == pytest.approx((HIT * WEIGHTS).sum() / WEIGHTS.sum())


def test_categorical_binary_and_plain_accuracy():
    onehot = np.eye(4, dtype=np.float32)[LABELS]
    m = metrics.CategoricalAccuracy()
    assert float(m(onehot, PROBS)) == pytest.approx(HIT.mean())
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    p = np.array([[0.7], [0.6], [0.4], [0.1]], np.float32)
    assert float(metrics.BinaryAccuracy()(y, p)) == pytest.approx(0.5)
    assert float(metrics.BinaryAccuracy(threshold=0.65)(y, p)) == pytest.approx(0.75)
    assert float(metrics.BinaryAccuracy()(y.ravel(), p)) == pytest.approx(0.5)
    assert float(metrics.Accuracy()([1, 2, 3, 4], [1, 2, 0, 4])) == pytest.approx(0.75)


def test_mean_squared_error_and_wrapper():
    t, p = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    want = ((t - p) ** 2).mean()
    assert float(metrics.MeanSquaredError()(t, p)) == pytest.approx(want, rel=1e-5)
    wrapped = metrics.MeanMetricWrapper(losses.mean_squared_error, name="mse")
    assert float(wrapped(t, p)) == pytest.approx(want, rel=1e-5)


def _traced_matches_eager(make, batches):
    eager, traced_metric = make(), make()
    step = compiler.function(
        lambda *args: (traced_metric.update_state(*args), traced_metric.result())[1]
    )
    for args in batches:
        eager.update_state(*args)
        got = step(*args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(eager.result()), rtol=1e-6)
    np.testing.assert_allclose(
        [v.numpy() for v in traced_metric.variables], [v.numpy() for v in eager.variables]
    )


def test_traced_updates_match_eager():
    _traced_matches_eager(metrics.SparseCategoricalAccuracy,
                          [(LABELS[:4], PROBS[:4]), (LABELS[4:], PROBS[4:])])  # fmt: skip
    _traced_matches_eager(metrics.SparseCategoricalAccuracy,
                          [(LABELS, PROBS, WEIGHTS), (LABELS, PROBS, WEIGHTS)])  # fmt: skip
    onehot = np.eye(4, dtype=np.float32)[LABELS]
    _traced_matches_eager(metrics.CategoricalAccuracy, [(onehot, PROBS)] * 2)
    _traced_matches_eager(metrics.BinaryAccuracy, [(LABELS[:, None] % 2, PROBS[:, :1])] * 2)
    _traced_matches_eager(metrics.Mean, [(PROBS[:, 0],), (PROBS[:, 1], WEIGHTS)])
    _traced_matches_eager(metrics.MeanSquaredError, [(PROBS, PROBS[::-1])])


def test_metric_updated_inside_a_traced_training_step():
    w = Variable(np.zeros((3, 4), np.float32))
    acc = metrics.SparseCategoricalAccuracy()

    def step(x, y):
        logits = x @ w
        acc.update_state(y, logits)
        w.assign_add(np.ones((3, 4), np.float32) * 0.0)
        return acc.result()

    f = compiler.function(step)
    x = np.eye(3, dtype=np.float32)
    assert float(f(x, np.array([0, 0, 1]))) == pytest.approx(2 / 3)  # argmax of zeros is 0
    assert float(f(x, np.array([0, 0, 0]))) == pytest.approx(5 / 6)
    acc.reset_state()
    assert float(f(x, np.array([1, 1, 1]))) == pytest.approx(0.0)


def test_get_names_and_errors():
    assert type(metrics.get("mse")) is metrics.MeanSquaredError
    assert metrics.get("mse").name == "mse"
    assert type(metrics.get("sparse_categorical_accuracy")) is metrics.SparseCategoricalAccuracy
    assert type(metrics.get("BinaryAccuracy")) is metrics.BinaryAccuracy
    assert metrics.get(None) is None
    inst = metrics.Mean()
    assert metrics.get(inst) is inst
    fn_metric = metrics.get(losses.mean_squared_error)
    assert isinstance(fn_metric, metrics.MeanMetricWrapper)
    assert fn_metric.name == "mean_squared_error"
    with pytest.raises(ValueError, match="Unknown metric.*sparse_categorical_accuracy"):
        metrics.get("sparse_acuracy")


@pytest.mark.parametrize(
    "true_shape, pred_shape, cls",
    [
        ((12, 1), (12, 1), metrics.BinaryAccuracy),
        ((12,), (12, 1), metrics.BinaryAccuracy),
        ((20,), (20, 3), metrics.SparseCategoricalAccuracy),
        ((20, 1), (20, 3), metrics.SparseCategoricalAccuracy),
        ((20, 3), (20, 3), metrics.CategoricalAccuracy),
    ],
)
def test_accuracy_resolution_by_shape(true_shape, pred_shape, cls):
    for name in ("accuracy", "acc"):
        m = metrics.resolve_accuracy(name, true_shape, pred_shape)
        assert type(m) is cls and m.name == name
        m = metrics.get_compile_metric(name, np.zeros(true_shape), np.zeros(pred_shape))
        assert type(m) is cls and m.name == name
    ce = metrics.get_compile_metric("crossentropy", true_shape, pred_shape)
    assert ce.name == "crossentropy"


@pytest.mark.parametrize(
    "metric",
    [
        metrics.Mean(name="loss"),
        metrics.Sum(),
        metrics.BinaryAccuracy(threshold=0.3),
        metrics.SparseCategoricalAccuracy(name="acc"),
        metrics.MeanSquaredError(),
        metrics.MeanMetricWrapper(losses.mean_squared_error, name="m"),
    ],
)
def test_config_round_trip_through_json(metric):
    config = json.loads(json.dumps(metrics.serialize(metric)))
    again = metrics.deserialize(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
