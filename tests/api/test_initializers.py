"""Initializers against statistics and configs recorded from real Keras; seeding; errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from backend import Variable
from backend import random as engine_random
from kerasish import initializers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_goldens"
GOLDEN = np.load(FIXTURES / "catalogue_activations.npz")
INFO = json.loads((FIXTURES / "catalogue_activations.json").read_text())
STATS = INFO["initializer_stats"]
CONFIGS = INFO["configs"]["initializers"]
# Distributions with hard bounds: their min/max must land near Keras' (the bound).
BOUNDED = ("uniform", "truncated", "glorot", "he_", "lecun", "fan_avg_uniform")


@pytest.mark.parametrize("case", sorted(STATS))
@pytest.mark.parametrize("shape_name", ["dense", "conv"])
def test_statistics_match_keras(case, shape_name):
    keras_stats = STATS[case][shape_name]
    init = initializers.get(STATS[case]["config"])
    shape = tuple(keras_stats["shape"])
    assert initializers.compute_fans(shape) == (keras_stats["fan_in"], keras_stats["fan_out"])
    w = init(shape)
    assert w.shape == shape and w.dtype == np.float32
    w = w.astype(np.float64)
    n, std = w.size, keras_stats["std"]
    # Five standard errors: of the mean (std / sqrt(n)) and of the std (~ std / sqrt(2n)).
    assert abs(w.mean() - keras_stats["mean"]) < 5 * std / math.sqrt(n) + 1e-6
    assert abs(w.std() / std - 1) < 5 / math.sqrt(2 * n)
    bounded = any(tag in case for tag in BOUNDED) and "untruncated" not in case
    slack = 0.02 * (keras_stats["max"] - keras_stats["min"]) if bounded else 1.0 * std
    assert abs(w.min() - keras_stats["min"]) < slack
    assert abs(w.max() - keras_stats["max"]) < slack


def test_fan_limits_are_hard_bounds():
    shape = (3, 3, 16, 32)  # fan_in 144, fan_out 288
    w = initializers.GlorotUniform(seed=2)(shape)
    assert np.abs(w).max() <= math.sqrt(6 / (144 + 288))
    w = initializers.HeNormal(seed=2)(shape)
    assert np.abs(w).max() <= 2 * math.sqrt(2 / 144) / 0.87962566103423978 + 1e-6
    assert initializers.compute_fans((4, 5, 6), input_axes=[0], output_axes=[1, 2]) == (4, 30)


def test_orthogonal_rows_or_columns_are_orthonormal():
    q = initializers.Orthogonal(gain=2.0, seed=3)((6, 4))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    q = initializers.Orthogonal(seed=3)((2, 2, 3))  # flattened to (4, 3)
    flat = q.reshape(4, 3)
    np.testing.assert_allclose(flat.T @ flat, np.eye(3), atol=1e-5)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((3,))


def test_deterministic_initializers_match_keras():
    np.testing.assert_array_equal(initializers.Constant(0.5)((3, 4)), GOLDEN["init__constant"])
    np.testing.assert_array_equal(initializers.Identity(2.0)((3, 4)), GOLDEN["init__identity"])
    np.testing.assert_array_equal(initializers.Identity()((4, 2)), GOLDEN["init__identity_tall"])
    with pytest.raises(ValueError, match="2D matrices"):
        initializers.Identity()((2, 2, 2))
    assert initializers.Zeros()((2,), dtype="int32").dtype == np.int32


def test_seeding():
    a = initializers.RandomNormal(seed=5)((10,))
    np.testing.assert_array_equal(a, initializers.RandomNormal(seed=5)((10,)))
    unseeded = initializers.GlorotUniform()
    # As Keras: an unseeded instance fixes its seed when made, so it repeats its values...
    np.testing.assert_array_equal(unseeded((4, 4)), unseeded((4, 4)))
    # ... and another instance draws other values.
    assert not np.array_equal(unseeded((4, 4)), initializers.GlorotUniform()((4, 4)))
    engine_random.set_random_seed(11)
    first = initializers.HeUniform()((4, 4))
    engine_random.set_random_seed(11)
    np.testing.assert_array_equal(first, initializers.HeUniform()((4, 4)))
    generator = initializers.RandomUniform(seed=engine_random.SeedGenerator(3))
    assert not np.array_equal(generator((5,)), generator((5,)))


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_config_matches_keras_and_round_trips(key):
    keras_serialized = CONFIGS[key]
    init = initializers.get(keras_serialized)
    ours = initializers.serialize(init)
    if keras_serialized["class_name"] == "Identity":
        # Keras 3.15 drops `gain` from Identity's config ({}), so its configs load as
        # gain 1; we write `gain`, which round-trips.
        assert keras_serialized["config"] == {} and ours["config"] == {"gain": 1.0}
        assert initializers.Identity(gain=3.0).clone().get_config() == {"gain": 3.0}
    else:
        assert ours == keras_serialized
    again = initializers.deserialize(json.loads(json.dumps(ours)))
    assert type(again) is type(init) and again.get_config() == init.get_config()
    assert type(init).from_config(init.get_config()).get_config() == init.get_config()


def test_get_resolves_every_keras_alias():
    for name, class_name in INFO["aliases"]["initializers"].items():
        if class_name == "STFT":
            continue  # not implemented
        assert type(initializers.get(name)).__name__ == class_name, name


def test_get_other_identifiers():
    assert initializers.get(None) is None
    init = initializers.Ones()
    assert initializers.get(init) is init
    assert isinstance(initializers.get(initializers.Zeros), initializers.Zeros)
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(initializers.get(value)((2, 3)), value)
    with pytest.raises(ValueError, match="Expected `shape`"):
        initializers.get(value)((3, 2))
    assert Variable("he_uniform", shape=(3, 2)).shape == (3, 2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: initializers.VarianceScaling(scale=-1.0), "scale"),
        (lambda: initializers.VarianceScaling(scale=0.0), "scale"),
        (lambda: initializers.VarianceScaling(mode="fan_sideways"), "mode"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), "distribution"),
        (lambda: initializers.RandomNormal(seed="one"), "seed"),
        (lambda: initializers.RandomNormal(stddev=-1.0), "stddev"),
        (lambda: initializers.get("glorot_uniformm"), "Known initializers:.*glorot_uniform"),
        (lambda: initializers.get(3), "Could not interpret"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_variance_scaling_accepts_normal_and_case():
    init = initializers.VarianceScaling(distribution="Normal")
    assert init.get_config()["distribution"] == "truncated_normal"
