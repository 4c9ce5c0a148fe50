"""Regularizers and constraints against values and configs recorded from real Keras."""

import json
from pathlib import Path

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler
from kerasish import constraints, regularizers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_goldens"
GOLDEN = np.load(FIXTURES / "catalogue_activations.npz")
INFO = json.loads((FIXTURES / "catalogue_activations.json").read_text())
FAMILIES = {"regularizers": regularizers, "constraints": constraints}


@pytest.mark.parametrize("case", sorted(INFO["regularizers"]))
def test_regularizer_matches_keras(case):
    spec = INFO["regularizers"][case]
    reg = regularizers.get(spec)
    value = reg(GOLDEN[spec["input"]])
    assert value.shape == ()
    np.testing.assert_allclose(value.numpy(), GOLDEN[f"reg__{case}"], rtol=1e-5, atol=1e-6)
    traced = compiler.function(lambda w: reg(w))(GOLDEN[spec["input"]])
    np.testing.assert_allclose(np.asarray(traced), GOLDEN[f"reg__{case}"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(INFO["constraints"]))
def test_constraint_matches_keras(case):
    spec = INFO["constraints"][case]
    con = constraints.get(spec)
    np.testing.assert_allclose(
        con(GOLDEN[spec["input"]]).numpy(), GOLDEN[f"con__{case}"], rtol=1e-5, atol=1e-6
    )


def test_regularizer_gradients():
    w = Variable(GOLDEN["w"])
    with GradientTape() as tape:
        penalty = regularizers.L1L2(l1=0.1, l2=0.2)(w)
    grad = tape.gradient(penalty, w).numpy()
    np.testing.assert_allclose(grad, 0.1 * np.sign(GOLDEN["w"]) + 0.4 * GOLDEN["w"], rtol=1e-5)
    with GradientTape() as tape:
        penalty = regularizers.OrthogonalRegularizer(factor=1.0)(w)
    assert np.isfinite(tape.gradient(penalty, w).numpy()).all()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_configs_match_keras_and_round_trip(family):
    module = FAMILIES[family]
    for key, keras_serialized in INFO["configs"][family].items():
        obj = module.get(keras_serialized)
        ours = module.serialize(obj)
        assert ours == keras_serialized, key
        again = module.deserialize(json.loads(json.dumps(ours)))
        assert type(again) is type(obj) and again.get_config() == obj.get_config(), key
        assert type(obj).from_config(obj.get_config()).get_config() == obj.get_config(), key


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_get_resolves_every_keras_alias(family):
    module = FAMILIES[family]
    for name, class_name in INFO["aliases"][family].items():
        assert type(module.get(name)).__name__ == class_name, name
    assert module.get(None) is None


def test_extra_spellings_and_identifiers():
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)  # Keras 2's name
    assert isinstance(regularizers.get(regularizers.L2), regularizers.L2)
    assert regularizers.l2(0.5).get_config() == {"l2": 0.5}
    assert constraints.max_norm(3.0).get_config() == {"max_value": 3.0, "axis": 0}
    fn = lambda w: w  # noqa: E731
    assert constraints.get(fn) is fn and regularizers.get(fn) is fn


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: regularizers.L1(-0.1), "l1"),
        (lambda: regularizers.L2(float("nan")), "l2"),
        (lambda: regularizers.L1L2(l2="big"), "l2"),
        (lambda: regularizers.OrthogonalRegularizer(mode="diagonal"), "mode"),
        (lambda: regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2))), "rank 2"),
        (lambda: regularizers.get("l3"), "Known regularizers:.*'l2'"),
        (lambda: constraints.get("max_nrom"), "Known constraints:.*'max_norm'"),
        (lambda: constraints.get(3), "Could not interpret"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_constraint_on_a_variable_after_an_update():
    w = Variable(np.array([[3.0, -1.0], [4.0, 0.5]], np.float32))
    w.constraint = constraints.MaxNorm(max_value=1.0)
    w.assign(w.constraint(w))
    np.testing.assert_allclose(np.linalg.norm(w.numpy(), axis=0), [1.0, 1.0], rtol=1e-5)
    w.assign(constraints.NonNeg()(w))
    assert (w.numpy() >= 0).all()
