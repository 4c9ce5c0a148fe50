"""BatchNormalization and GroupNormalization: harness, training/inference math, moving
statistics (eager, compiled, after fit), freezing, configs and errors."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, n_trainable, n_non_trainable",
    [
        (layers.BatchNormalization, {}, (4, 5, 3), 2, 2),
        (layers.BatchNormalization, {"axis": 1, "center": False}, (4, 5, 3), 1, 2),
        (layers.BatchNormalization, {"scale": False, "momentum": 0.9}, (6, 3), 1, 2),
        (layers.GroupNormalization, {"groups": 2}, (2, 5, 4), 2, 0),
        (layers.GroupNormalization, {"groups": 3, "axis": 1, "scale": False}, (2, 6, 4, 2), 1, 0),
        (layers.GroupNormalization, {"groups": 1}, (2, 3, 3, 4), 2, 0),
    ],
)
def test_layer_harness(cls, kwargs, in_shape, n_trainable, n_non_trainable):
    run_layer_test(
        cls,
        kwargs,
        in_shape,
        in_shape,
        expected_num_trainable_weights=n_trainable,
        expected_num_non_trainable_weights=n_non_trainable,
    )
    # In training mode too (BatchNormalization: batch statistics and moving updates).
    run_layer_test(
        cls,
        kwargs,
        in_shape,
        in_shape,
        expected_num_trainable_weights=n_trainable,
        expected_num_non_trainable_weights=n_non_trainable,
        call_kwargs={"training": True},
        run_training_check=False,
    )


def _x(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + 1).astype("float32")


def test_batch_norm_training_math_and_moving_update():
    x = _x(8, 4, 3)
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn.build(x.shape)
    gamma = np.array([1.0, 2.0, 0.5], "float32")
    beta = np.array([0.0, -1.0, 3.0], "float32")
    mm = np.array([0.1, 0.2, 0.3], "float32")
    mv = np.array([1.5, 2.0, 0.5], "float32")
    bn.set_weights([gamma, beta, mm, mv])
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 1)), x.var(axis=(0, 1))  # biased, as Keras 3
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm * 0.9 + mean * 0.1, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), mv * 0.9 + var * 0.1, rtol=1e-5)
    # Inference: the moving statistics, unchanged by the call.
    mm2, mv2 = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    y = bn(x).numpy()
    np.testing.assert_allclose(y, (x - mm2) / np.sqrt(mv2 + 1e-3) * gamma + beta, rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm2)


def test_compiled_training_call_updates_moving_statistics():
    from backend import compiler

    x = _x(8, 3)
    bn = layers.BatchNormalization(momentum=0.5)
    bn.build(x.shape)
    step = compiler.function(lambda data: bn(data, training=True))
    for i in range(2):
        step(x)
        keep = 0.5 ** (i + 1)
        np.testing.assert_allclose(bn.moving_mean.numpy(), (1 - keep) * x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(
            bn.moving_variance.numpy(), keep + (1 - keep) * x.var(0), rtol=1e-5
        )


def test_batch_norm_on_another_axis_without_scale_or_center():
    x = _x(4, 3, 5)
    bn = layers.BatchNormalization(axis=1, center=False, scale=False, epsilon=0.01)
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 0.01), rtol=1e-4, atol=1e-5)
    assert [w.path.split("/")[-1] for w in bn.weights] == ["moving_mean", "moving_variance"]
    assert bn.moving_mean.shape == (3,)


def test_frozen_batch_norm_runs_in_inference_mode():
    x = _x(8, 3)
    bn = layers.BatchNormalization()
    bn.build(x.shape)
    bn.trainable = False
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_moving_statistics_after_a_fit_step():
    x = _x(16, 3, seed=1)
    y = np.random.default_rng(2).standard_normal((16, 1)).astype("float32")
    bn = layers.BatchNormalization()
    model = keras.Sequential([keras.Input((3,)), bn, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99 + 0.01 * var, rtol=1e-5)
    assert not np.allclose(bn.gamma.numpy(), 1.0)  # trained too
    # Prediction uses the moving statistics and changes nothing.
    before = bn.moving_mean.numpy()
    out = model.predict(x, verbose=0)
    dense = model.layers[-1]
    normalized = (x - before) / np.sqrt(bn.moving_variance.numpy() + 1e-3)
    ref = (normalized * bn.gamma.numpy() + bn.beta.numpy()) @ dense.kernel.numpy()
    np.testing.assert_allclose(out, ref + dense.bias.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)
    # A second step moves them again (the compiled step updates them every time).
    model.train_on_batch(x, y)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.99 * before + 0.01 * mean, rtol=1e-5)


def test_batch_norm_masked_statistics():
    x = _x(2, 4, 3)
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    bn = layers.BatchNormalization(momentum=0.0)
    bn(x, training=True, mask=mask)
    kept = x[mask]
    np.testing.assert_allclose(bn.moving_mean.numpy(), kept.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), kept.var(0), rtol=1e-4)


def test_batch_norm_config_and_keras2_axis():
    config = layers.BatchNormalization().get_config()
    assert list(config)[3:] == [
        "axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
        "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
        "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
        "synchronized", "renorm", "renorm_clipping", "renorm_momentum",
    ]  # fmt: skip
    assert config["momentum"] == 0.99 and config["epsilon"] == 1e-3 and config["axis"] == -1
    assert config["moving_variance_initializer"]["class_name"] == "Ones"
    assert layers.BatchNormalization(axis=[3], fused=True).axis == 3  # a Keras 2 config
    with pytest.raises(ValueError, match="renorm=True"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match=r"Received: axis=4"):
        layers.BatchNormalization(axis=4)(np.zeros((2, 3), "float32"))


def test_group_norm_matches_numpy():
    x = _x(2, 5, 6)
    layer = layers.GroupNormalization(groups=3, epsilon=1e-3)
    layer.build(x.shape)
    gamma = np.linspace(0.5, 2, 6).astype("float32")
    beta = np.linspace(-1, 1, 6).astype("float32")
    layer.set_weights([gamma, beta])
    y = layer(x).numpy()
    g = x.reshape(2, 5, 3, 2)
    mean, var = g.mean(axis=(1, 3), keepdims=True), g.var(axis=(1, 3), keepdims=True)
    ref = ((g - mean) / np.sqrt(var + 1e-3)).reshape(2, 5, 6) * gamma + beta
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    assert list(layer.get_config())[3:] == [
        "groups", "axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
        "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
    ]  # fmt: skip


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"Received: groups=0"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match=r"groups \(32\) cannot be more than.*channels \(4\)"):
        layers.GroupNormalization()(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"multiple of the number of groups \(3\)"):
        layers.GroupNormalization(groups=3)(np.zeros((2, 4), "float32"))
