"""Every metric against Keras 3 goldens (two update_state calls, with and without
sample_weight), config round trips through JSON, aliases, shape errors, traced updates."""

import json
from pathlib import Path

import numpy as np
import pytest

from backend import compiler
from kerasish import metrics

FIXTURES = Path(__file__).parents[1] / "fixtures" / "keras_goldens"
INDEX = json.loads((FIXTURES / "catalogue_losses_metrics.json").read_text())
ARRAYS = dict(np.load(FIXTURES / "catalogue_losses_metrics.npz"))
CASES = INDEX["cases"]["metrics"]
# Keras leaves `axis` out of CosineSimilarity's config (its round trip loses it).
EXTRA_KEYS = {"CosineSimilarity": {"axis"}}


def _batches(case):
    for rows in (slice(0, 4), slice(4, 8)):
        args = [ARRAYS[case["y_true"]][rows]]
        if case["y_pred"] is not None:
            args.append(ARRAYS[case["y_pred"]][rows])
        yield args, (ARRAYS["weights"][rows] if case["weighted"] else None)


def _make(case):
    return getattr(metrics, case["class_name"])(**case["kwargs"])


def _without_extra(name, config):
    return {k: v for k, v in config.items() if k not in EXTRA_KEYS.get(name, ())}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_metric_matches_keras(case_id):
    case = CASES[case_id]
    metric = _make(case)
    for args, sw in _batches(case):
        metric.update_state(*args, sample_weight=sw)
    got, want = np.asarray(metric.result()), ARRAYS[f"metric/{case_id}"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert _without_extra(case["class_name"], metric.get_config()) == case["config"]
    metric.reset_state()
    for args, sw in _batches(case):
        metric.update_state(*args, sample_weight=sw)
    np.testing.assert_allclose(np.asarray(metric.result()), want, rtol=1e-5, atol=1e-5)


def test_every_class_default_config_matches_keras():
    for name, want in INDEX["default_configs"]["metrics"].items():
        assert _without_extra(name, getattr(metrics, name)().get_config()) == want, name


@pytest.mark.parametrize(
    "case_id",
    ["AUC_weighted", "AUC_pr_weighted", "Precision_top_k_weighted", "F1Score_macro_weighted",
     "R2Score_weighted", "TopKCategoricalAccuracy_k2_weighted", "FalseNegatives_weighted"],
)  # fmt: skip
def test_traced_updates_match_eager_and_keras(case_id):
    case = CASES[case_id]
    metric = _make(case)
    batches = list(_batches(case))
    metric.update_state(*batches[0][0], sample_weight=batches[0][1])  # builds lazy state
    step = compiler.function(
        lambda t, p, w: (metric.update_state(t, p, sample_weight=w), metric.result())[1]
    )
    got = step(*batches[1][0], batches[1][1])
    np.testing.assert_allclose(np.asarray(got), ARRAYS[f"metric/{case_id}"], rtol=1e-5, atol=1e-5)


MEMBERS = [cls for name, cls in metrics._CLASSES.items() if name not in ("Metric",
           "MeanMetricWrapper")]  # fmt: skip


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
def test_round_trip_through_json(cls):
    metric = cls(name="custom")
    config = json.loads(json.dumps(metrics.serialize(metric)))
    again = metrics.deserialize(config)
    assert type(again) is cls and again.get_config() == metric.get_config()
    assert type(metrics.get(cls.__name__)) is cls


def test_round_trip_keeps_arguments():
    for metric in (metrics.AUC(curve="PR", num_thresholds=17, multi_label=True),
                   metrics.Precision(thresholds=[0.1, 0.9], top_k=2, class_id=1),
                   metrics.FBetaScore(average="weighted", beta=0.5, threshold=0.3),
                   metrics.R2Score(class_aggregation=None, num_regressors=3),
                   metrics.AUC(thresholds=[0.25, 0.5, 0.75]),
                   metrics.SparseTopKCategoricalAccuracy(k=3)):  # fmt: skip
        config = json.loads(json.dumps(metrics.serialize(metric)))
        assert metrics.deserialize(config).get_config() == metric.get_config()


ALIASES = {
    "mse": metrics.MeanSquaredError, "MSE": metrics.MeanSquaredError,
    "mae": metrics.MeanAbsoluteError, "MAE": metrics.MeanAbsoluteError,
    "mape": metrics.MeanAbsolutePercentageError, "MAPE": metrics.MeanAbsolutePercentageError,
    "msle": metrics.MeanSquaredLogarithmicError, "MSLE": metrics.MeanSquaredLogarithmicError,
    "bce": metrics.BinaryCrossentropy, "BCE": metrics.BinaryCrossentropy,
    "auc": metrics.AUC, "precision": metrics.Precision, "recall": metrics.Recall,
    "f1_score": metrics.F1Score, "r2_score": metrics.R2Score,
    "root_mean_squared_error": metrics.RootMeanSquaredError,
    "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
    "true_positives": metrics.TruePositives, "false_negatives": metrics.FalseNegatives,
    "cosine_similarity": metrics.CosineSimilarity, "kld": metrics.KLDivergence,
}  # fmt: skip


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_get_resolves_alias(alias):
    metric = metrics.get(alias)
    assert type(metric) is ALIASES[alias] and metric.name == alias


@pytest.mark.parametrize(
    "true_shape, pred_shape, cls",
    [((8, 1), (8, 1), metrics.BinaryCrossentropy),
     ((8,), (8, 4), metrics.SparseCategoricalCrossentropy),
     ((8, 4), (8, 4), metrics.CategoricalCrossentropy)],
)  # fmt: skip
def test_crossentropy_resolved_from_shapes(true_shape, pred_shape, cls):
    for name in ("crossentropy", "ce"):
        metric = metrics.get_compile_metric(name, true_shape, pred_shape)
        assert type(metric) is cls and metric.name == name


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Unknown metric: 'presicion'.*'precision'"):
        metrics.get("presicion")


@pytest.mark.parametrize(
    "metric",
    [metrics.MeanAbsoluteError(), metrics.Precision(), metrics.AUC(), metrics.F1Score(),
     metrics.RootMeanSquaredError(), metrics.R2Score(), metrics.TopKCategoricalAccuracy()],
    ids=lambda m: type(m).__name__,
)  # fmt: skip
def test_shapes_that_do_not_fit_name_the_metric(metric):
    with pytest.raises(ValueError, match=rf"{metric.name}.*\(4, 3\).*\(4, 2\)"):
        metric.update_state(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))
