"""Every loss against Keras 3 goldens (tools/keras_goldens/record_catalogue_losses_metrics.py),
config round trips through JSON, and every alias."""

import json
from pathlib import Path

import numpy as np
import pytest

from backend import compiler
from kerasish import losses

FIXTURES = Path(__file__).parents[1] / "fixtures" / "keras_goldens"
INDEX = json.loads((FIXTURES / "catalogue_losses_metrics.json").read_text())
ARRAYS = dict(np.load(FIXTURES / "catalogue_losses_metrics.npz"))
CASES = INDEX["cases"]["losses"]
# Keras leaves these arguments out of the config (so its round trip loses them); kerasish
# keeps them.
EXTRA_KEYS = {"Huber": {"delta"}, "CosineSimilarity": {"axis"},
              "SparseCategoricalCrossentropy": {"axis"}}  # fmt: skip


def _inputs(case):
    sw = ARRAYS["weights"][:6] if case["weighted"] else None
    return ARRAYS[case["y_true"]][:6], ARRAYS[case["y_pred"]][:6], sw


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_loss_matches_keras(case_id):
    case = CASES[case_id]
    loss = getattr(losses, case["class_name"])(**case["kwargs"])
    got = np.asarray(loss(*_inputs(case)))
    want = ARRAYS[f"loss/{case_id}"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_config_matches_keras(case_id):
    case = CASES[case_id]
    config = getattr(losses, case["class_name"])(**case["kwargs"]).get_config()
    extra = EXTRA_KEYS.get(case["class_name"], set())
    assert {k: v for k, v in config.items() if k not in extra} == case["config"]


def test_every_class_default_config_matches_keras():
    for name, want in INDEX["default_configs"]["losses"].items():
        config = getattr(losses, name)().get_config()
        extra = EXTRA_KEYS.get(name, set())
        assert {k: v for k, v in config.items() if k not in extra} == want, name


MEMBERS = [cls for name, cls in losses._CLASSES.items() if name not in ("Loss",
           "LossFunctionWrapper")]  # fmt: skip


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
def test_round_trip_through_json(cls):
    loss = cls(reduction="sum", name="custom")
    config = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.deserialize(config)
    assert type(again) is cls and again.get_config() == loss.get_config()
    assert json.loads(json.dumps(again.get_config())) == again.get_config()
    assert type(losses.get(cls.__name__)) is cls


def test_round_trip_keeps_arguments():
    loss = losses.Huber(delta=0.3)
    again = losses.deserialize(json.loads(json.dumps(losses.serialize(loss))))
    assert again.delta == 0.3
    focal = losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5)
    again = losses.deserialize(json.loads(json.dumps(losses.serialize(focal))))
    assert (again.apply_class_balancing, again.alpha, again.gamma) == (True, 0.4, 1.5)


ALIASES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error", "kld": "kl_divergence", "KLD": "kl_divergence",
    "bce": "binary_crossentropy", "BCE": "binary_crossentropy", "huber": "huber",
    "logcosh": "log_cosh", "log_cosh": "log_cosh", "hinge": "hinge",
    "squared_hinge": "squared_hinge", "categorical_hinge": "categorical_hinge",
    "poisson": "poisson", "cosine_similarity": "cosine_similarity",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
}  # fmt: skip


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_get_resolves_alias(alias):
    fn = losses.get(alias)
    assert fn.__name__ == ALIASES[alias]
    assert isinstance(losses.resolve(alias), losses.Loss)


def test_functions_match_their_classes():
    y, p = ARRAYS["reg_true"][:6], ARRAYS["reg_pred"][:6]
    for name in ("mean_absolute_error", "huber", "log_cosh", "cosine_similarity"):
        np.testing.assert_allclose(
            np.asarray(losses.get(name)(y, p)).mean(),
            float(losses.LossFunctionWrapper(losses.get(name))(y, p)),
            rtol=1e-6,
        )


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Unknown loss: 'hubber'.*'huber'"):
        losses.get("hubber")


def test_shape_mismatch_names_the_loss():
    with pytest.raises(ValueError, match=r"huber.*\(6, 3\).*\(6, 2\)"):
        losses.Huber()(np.zeros((6, 3)), np.zeros((6, 2)))


def test_traced_focal_loss_matches_eager():
    case = CASES["BinaryFocalCrossentropy_balanced"]
    loss = losses.BinaryFocalCrossentropy(**case["kwargs"])
    traced = compiler.function(lambda t, p, w: loss(t, p, sample_weight=w))
    got = float(traced(*_inputs(case)))
    np.testing.assert_allclose(got, ARRAYS["loss/BinaryFocalCrossentropy_balanced"], rtol=1e-5)
