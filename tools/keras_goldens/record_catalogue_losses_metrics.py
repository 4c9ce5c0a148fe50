"""Record golden values of every Keras 3 loss and metric for kerasish's catalogue tests.

Run it in the separate Keras environment (see README.md next to this file):

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python \
        tools/keras_goldens/record_catalogue_losses_metrics.py --out tests/fixtures/keras_goldens

Writes `catalogue_losses_metrics.npz` (the fixed inputs and what Keras returned) and
`catalogue_losses_metrics.json` (per case: class, constructor kwargs, input names, the
result's array name and the class's `get_config()`). The inputs are drawn from
`np.random.default_rng(SEED)`; the output is byte-for-byte deterministic.

Losses: `cls(**kwargs)(y_true, y_pred, sample_weight)` on (6, k) inputs.
Metrics: `m = cls(**kwargs)`; `m.update_state(rows 0:4)`; `m.update_state(rows 4:8)`;
`m.result()` (both updates take the matching rows of `sample_weight` when given).
"""

import argparse
import json
import os
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from npz_files import write_npz  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"must run with KERAS_BACKEND=jax, got {keras.backend.backend()!r}")

SEED = 5


def make_inputs():
    """The fixed float32 / int32 inputs, every one stored in the npz under its name."""
    rng = np.random.default_rng(SEED)
    f = np.float32

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    logits4 = rng.normal(size=(8, 4)).astype(f) * 2
    labels4 = rng.integers(0, 4, size=(8,)).astype(np.int32)
    logits6 = rng.normal(size=(8, 6)).astype(f)
    labels6 = rng.integers(0, 6, size=(8,)).astype(np.int32)
    bin_logits = rng.normal(size=(8, 3)).astype(f) * 2
    return {
        "reg_true": rng.normal(size=(8, 3)).astype(f),
        "reg_pred": rng.normal(size=(8, 3)).astype(f),
        "pos_true": rng.uniform(0.05, 2.0, size=(8, 3)).astype(f),
        "pos_pred": rng.uniform(0.05, 2.0, size=(8, 3)).astype(f),
        "dist_true": softmax(rng.normal(size=(8, 4))).astype(f),
        "dist_pred": softmax(rng.normal(size=(8, 4))).astype(f),
        "bin_true": (rng.random((8, 3)) > 0.5).astype(f),
        "bin_logits": bin_logits,
        "bin_probs": (1 / (1 + np.exp(-bin_logits))).astype(f),
        "bin1_true": (rng.random((8, 1)) > 0.5).astype(f),
        "bin1_probs": rng.random((8, 1)).astype(f),
        "pm_true": np.where(rng.random((8, 3)) > 0.5, 1.0, -1.0).astype(f),
        "cat_logits": logits4,
        "cat_probs": softmax(logits4).astype(f),
        "cat_labels": labels4,
        "cat_labels_ignore": np.where(np.arange(8) % 3 == 1, -1, labels4).astype(np.int32),
        "cat_onehot": np.eye(4, dtype=f)[labels4],
        "cat6_probs": softmax(logits6).astype(f),
        "cat6_labels": labels6,
        "cat6_onehot": np.eye(6, dtype=f)[labels6],
        "weights": np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0, 0.25, 1.5], f),
    }


# (case id, class name, kwargs, y_true name, y_pred name, weighted)
REG, POS, DIST = ("reg_true", "reg_pred"), ("pos_true", "pos_pred"), ("dist_true", "dist_pred")
BIN, BINL = ("bin_true", "bin_probs"), ("bin_true", "bin_logits")
CAT, CATL = ("cat_onehot", "cat_probs"), ("cat_onehot", "cat_logits")
SPARSE, SPARSEL = ("cat_labels", "cat_probs"), ("cat_labels", "cat_logits")

LOSS_CASES = []
for _name, _pair in [
    ("MeanSquaredError", REG), ("MeanAbsoluteError", REG),
    ("MeanAbsolutePercentageError", POS), ("MeanSquaredLogarithmicError", POS),
    ("LogCosh", REG), ("Hinge", ("bin_true", "reg_pred")),
    ("SquaredHinge", ("pm_true", "reg_pred")),
    ("CategoricalHinge", ("cat_onehot", "cat_logits")), ("KLDivergence", DIST),
    ("Poisson", POS), ("CosineSimilarity", REG), ("Huber", REG),
    ("BinaryCrossentropy", BIN), ("BinaryFocalCrossentropy", BIN),
    ("CategoricalCrossentropy", CAT), ("CategoricalFocalCrossentropy", CAT),
    ("SparseCategoricalCrossentropy", SPARSE),
]:  # fmt: skip
    LOSS_CASES.append((_name, _name, {}, *_pair, False))
    LOSS_CASES.append((_name + "_weighted", _name, {}, *_pair, True))
LOSS_CASES += [
    ("MeanSquaredError_sum", "MeanSquaredError", {"reduction": "sum"}, *REG, True),
    ("MeanSquaredError_none", "MeanSquaredError", {"reduction": "none"}, *REG, True),
    ("Huber_delta_none", "Huber", {"delta": 0.5, "reduction": "none"}, *REG, False),
    ("CosineSimilarity_axis0", "CosineSimilarity", {"axis": 0}, *REG, False),
    ("CategoricalHinge_sum", "CategoricalHinge", {"reduction": "sum"}, "cat_onehot", "cat_probs",
     True),
    ("BinaryCrossentropy_logits_smooth", "BinaryCrossentropy",
     {"from_logits": True, "label_smoothing": 0.2}, *BINL, True),
    ("BinaryCrossentropy_none", "BinaryCrossentropy", {"reduction": "none"}, *BIN, False),
    ("BinaryFocalCrossentropy_balanced", "BinaryFocalCrossentropy",
     {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}, *BIN, True),
    ("BinaryFocalCrossentropy_logits_smooth", "BinaryFocalCrossentropy",
     {"from_logits": True, "label_smoothing": 0.1}, *BINL, False),
    ("CategoricalCrossentropy_logits_smooth", "CategoricalCrossentropy",
     {"from_logits": True, "label_smoothing": 0.1}, *CATL, True),
    ("CategoricalCrossentropy_sum", "CategoricalCrossentropy", {"reduction": "sum"}, *CAT, True),
    ("CategoricalFocalCrossentropy_logits_smooth", "CategoricalFocalCrossentropy",
     {"from_logits": True, "label_smoothing": 0.1, "alpha": 0.5, "gamma": 1.0}, *CATL, True),
    ("SparseCategoricalCrossentropy_logits", "SparseCategoricalCrossentropy",
     {"from_logits": True}, *SPARSEL, True),
    ("SparseCategoricalCrossentropy_ignore", "SparseCategoricalCrossentropy",
     {"ignore_class": -1}, "cat_labels_ignore", "cat_probs", False),
    ("SparseCategoricalCrossentropy_ignore_weighted", "SparseCategoricalCrossentropy",
     {"ignore_class": -1, "from_logits": True}, "cat_labels_ignore", "cat_logits", True),
    ("SparseCategoricalCrossentropy_none", "SparseCategoricalCrossentropy",
     {"reduction": "none"}, *SPARSE, False),
]  # fmt: skip

METRIC_CASES = []
for _name, _kwargs, _pair in [
    ("Accuracy", {}, ("cat_labels", "cat_labels_ignore")),
    ("BinaryAccuracy", {}, BIN),
    ("BinaryAccuracy_t", {"threshold": 0.3}, BIN),
    ("CategoricalAccuracy", {}, CAT),
    ("SparseCategoricalAccuracy", {}, SPARSE),
    ("TopKCategoricalAccuracy", {}, ("cat6_onehot", "cat6_probs")),
    ("TopKCategoricalAccuracy_k2", {"k": 2}, ("cat6_onehot", "cat6_probs")),
    ("SparseTopKCategoricalAccuracy", {}, ("cat6_labels", "cat6_probs")),
    ("SparseTopKCategoricalAccuracy_k2", {"k": 2}, ("cat6_labels", "cat6_probs")),
    ("MeanSquaredError", {}, REG),
    ("MeanAbsoluteError", {}, REG),
    ("RootMeanSquaredError", {}, REG),
    ("MeanAbsolutePercentageError", {}, POS),
    ("MeanSquaredLogarithmicError", {}, POS),
    ("LogCoshError", {}, REG),
    ("KLDivergence", {}, DIST),
    ("Poisson", {}, POS),
    ("Hinge", {}, ("pm_true", "reg_pred")),
    ("SquaredHinge", {}, ("bin_true", "reg_pred")),
    ("CategoricalHinge", {}, ("cat_onehot", "cat_logits")),
    ("CosineSimilarity", {}, REG),
    ("BinaryCrossentropy", {}, BIN),
    ("BinaryCrossentropy_logits", {"from_logits": True, "label_smoothing": 0.1}, BINL),
    ("CategoricalCrossentropy", {}, CAT),
    ("CategoricalCrossentropy_logits", {"from_logits": True, "label_smoothing": 0.1}, CATL),
    ("SparseCategoricalCrossentropy", {}, SPARSE),
    ("SparseCategoricalCrossentropy_logits", {"from_logits": True}, SPARSEL),
    (
        "SparseCategoricalCrossentropy_ignore",
        {"ignore_class": -1},
        ("cat_labels_ignore", "cat_probs"),
    ),
    ("Precision", {}, BIN),
    ("Precision_thresholds", {"thresholds": [0.2, 0.5, 0.8]}, BIN),
    ("Precision_top_k", {"top_k": 2}, BIN),
    ("Precision_class_id", {"class_id": 1, "thresholds": 0.4}, BIN),
    ("Recall", {}, BIN),
    ("Recall_thresholds", {"thresholds": [0.2, 0.5, 0.8]}, BIN),
    ("Recall_top_k_class", {"top_k": 1, "class_id": 2}, BIN),
    ("AUC", {}, BIN),
    ("AUC_pr", {"curve": "PR"}, BIN),
    ("AUC_few", {"num_thresholds": 7}, ("bin1_true", "bin1_probs")),
    ("AUC_minoring", {"num_thresholds": 11, "summation_method": "minoring"}, BIN),
    ("AUC_multilabel", {"multi_label": True, "num_thresholds": 50}, BIN),
    ("AUC_logits", {"from_logits": True}, BINL),
    ("F1Score", {}, BIN),
    ("F1Score_micro", {"average": "micro", "threshold": 0.5}, BIN),
    ("F1Score_macro", {"average": "macro", "threshold": 0.4}, BIN),
    ("F1Score_weighted", {"average": "weighted", "threshold": 0.5}, BIN),
    ("FBetaScore", {"beta": 2.0, "threshold": 0.5}, BIN),
    ("FBetaScore_argmax", {"beta": 0.5, "average": "macro"}, CAT),
    ("R2Score", {}, REG),
    ("R2Score_raw", {"class_aggregation": None}, REG),
    ("R2Score_variance", {"class_aggregation": "variance_weighted_average"}, REG),
    ("R2Score_regressors", {"num_regressors": 2}, REG),
    ("TruePositives", {}, BIN),
    ("TrueNegatives", {"thresholds": [0.3, 0.6]}, BIN),
    ("FalsePositives", {}, BIN),
    ("FalseNegatives", {"thresholds": 0.7}, BIN),
]:
    _cls = _name.split("_")[0]
    METRIC_CASES.append((_name, _cls, _kwargs, *_pair, False))
    METRIC_CASES.append((_name + "_weighted", _cls, _kwargs, *_pair, True))
# Mean and Sum take values (no y_pred).
METRIC_CASES += [
    ("Mean", "Mean", {}, "reg_true", None, False),
    ("Mean_weighted", "Mean", {}, "reg_true", None, True),
    ("Sum", "Sum", {}, "reg_true", None, False),
    ("Sum_weighted", "Sum", {}, "reg_true", None, True),
]
# Weighted cases Keras does not support (R2Score takes (n,) weights: fine).
METRIC_CASES = [c for c in METRIC_CASES if not (c[0].startswith("FBetaScore_argmax") and c[5])]

METRIC_CLASSES = sorted({c[1] for c in METRIC_CASES})
LOSS_CLASSES = sorted({c[1] for c in LOSS_CASES})


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def record(inputs):
    arrays = dict(inputs)
    cases = {"losses": {}, "metrics": {}}
    for case_id, cls_name, kwargs, t, p, weighted in LOSS_CASES:
        keras.backend.clear_session()  # automatic names without a _N suffix
        loss = getattr(keras.losses, cls_name)(**kwargs)
        sw = inputs["weights"][:6] if weighted else None
        value = loss(inputs[t][:6], inputs[p][:6], sample_weight=sw)
        arrays[f"loss/{case_id}"] = np.asarray(value, np.float32)
        cases["losses"][case_id] = {"class_name": cls_name, "kwargs": kwargs, "y_true": t,
                                    "y_pred": p, "weighted": weighted,
                                    "config": jsonable(loss.get_config())}  # fmt: skip
    for case_id, cls_name, kwargs, t, p, weighted in METRIC_CASES:
        keras.backend.clear_session()
        metric = getattr(keras.metrics, cls_name)(**kwargs)
        for rows in (slice(0, 4), slice(4, 8)):
            args = [inputs[t][rows]] + ([] if p is None else [inputs[p][rows]])
            sw = inputs["weights"][rows] if weighted else None
            metric.update_state(*args, sample_weight=sw)
        arrays[f"metric/{case_id}"] = np.asarray(metric.result(), np.float32)
        cases["metrics"][case_id] = {"class_name": cls_name, "kwargs": kwargs, "y_true": t,
                                     "y_pred": p, "weighted": weighted,
                                     "config": jsonable(metric.get_config())}  # fmt: skip
    defaults = {"losses": {}, "metrics": {}}
    for family, names in (("losses", LOSS_CLASSES), ("metrics", METRIC_CLASSES)):
        for name in names:
            keras.backend.clear_session()
            obj = getattr(getattr(keras, family), name)()
            defaults[family][name] = jsonable(obj.get_config())
    return arrays, cases, defaults


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    out = parser.parse_args().out
    arrays, cases, defaults = record(make_inputs())
    import jax

    index = {
        "versions": {"keras": keras.__version__, "jax": jax.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "protocol": __doc__,
        "cases": cases,
        "default_configs": defaults,
    }  # fmt: skip
    write_npz(os.path.join(out, "catalogue_losses_metrics.npz"), arrays)
    with open(os.path.join(out, "catalogue_losses_metrics.json"), "w") as fh:
        json.dump(index, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
