"""Core layers through the layer harness, and the Layer base's behaviour."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape, n_trainable",
    [
        (layers.Dense, {"units": 4}, (3, 5), (3, 4), 2),
        (layers.Dense, {"units": 2, "activation": "relu", "use_bias": False}, (3, 5), (3, 2), 1),
        (layers.Dense, {"units": 3, "activation": "tanh"}, (2, 4, 5), (2, 4, 3), 2),
        (layers.Activation, {"activation": "sigmoid"}, (2, 3), (2, 3), 0),
        (layers.Dropout, {"rate": 0.5}, (2, 3), (2, 3), 0),
        (layers.Flatten, {}, (2, 3, 4), (2, 12), 0),
        (layers.Identity, {}, (2, 3), (2, 3), 0),
    ],
)
def test_layer_harness(cls, kwargs, in_shape, out_shape, n_trainable):
    run_layer_test(cls, kwargs, in_shape, out_shape, expected_num_trainable_weights=n_trainable)


def test_dense_matches_numpy_and_exposes_kernel_and_bias():
    layer = layers.Dense(3, activation="relu")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    y = layer(x)
    assert isinstance(y, keras.Tensor)
    expected = np.maximum(x @ layer.kernel.numpy() + layer.bias.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert layer.kernel.shape == (5, 3) and layer.count_params() == 18


def test_dense_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"Received: units=-3"):
        layers.Dense(-3)
    with pytest.raises(ValueError, match=r"Received: units=0"):
        layers.Dense(0)
    layer = layers.Dense(2)
    layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"Dense 'dense.*last dim 3.*\(1, 4\)"):
        layer(np.ones((1, 4)))
    with pytest.raises(ValueError, match="Unknown activation"):
        layers.Dense(2, activation="nope")
    with pytest.raises(ValueError, match=r"Received: rate=1.5"):
        layers.Dropout(1.5)


def test_names_are_unique_and_snake_case():
    a, b = layers.Dense(1), layers.Dense(1)
    assert a.name != b.name and a.name.startswith("dense") and b.name.startswith("dense")

    class MyCustomLayer(keras.Layer):
        pass

    assert MyCustomLayer().name.startswith("my_custom_layer")
    with pytest.raises(ValueError, match="name"):
        layers.Dense(1, name="a/b")


def test_float64_inputs_are_cast_to_the_layer_dtype():
    layer = layers.Dense(2)
    assert layer(np.ones((1, 3), np.float64)).dtype == "float32"


def test_training_flag_propagates_to_nested_layers():
    class Block(keras.Layer):
        def __init__(self):
            super().__init__()
            self.drop = layers.Dropout(0.5, seed=1)

        def call(self, x):
            return self.drop(x)

    block = Block()
    x = np.ones((200,), np.float32)
    np.testing.assert_array_equal(block(x).numpy(), x)  # inference by default
    trained = block(x, training=True).numpy()
    assert set(np.unique(trained)) <= {0.0, 2.0} and (trained == 0).any()


def test_nested_weights_freezing_and_set_weights():
    class Two(keras.Layer):
        def __init__(self):
            super().__init__()
            self.first = layers.Dense(3)
            self.second = layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    model = Two()
    model(np.ones((1, 4)))
    assert len(model.weights) == 4 and len(model.trainable_weights) == 4
    model.first.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    with keras.GradientTape() as tape:
        loss = ops.sum(model(np.ones((1, 4))))
    grads = tape.gradient(loss, model.weights)
    assert grads[0] is None and grads[2] is not None  # the frozen kernel is not watched
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    with pytest.raises(ValueError, match="expects 4 weights"):
        model.set_weights([np.ones((4, 3))])
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*\(3, 3\)"):
        model.set_weights([np.ones((3, 3)), np.ones(3), np.ones((3, 2)), np.ones(2)])


def test_add_loss_and_regularized_weights():
    class Penalized(keras.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="ones",
                                     regularizer=lambda w: ops.sum(w) * 0.5)  # fmt: skip

        def call(self, x):
            self.add_loss(ops.sum(x))
            return x * self.w

    layer = Penalized()
    layer(np.ones(2, np.float32))
    values = sorted(float(v) for v in layer.losses)
    assert values == [1.0, 2.0]


def test_masks_pass_between_layers_that_support_them():
    class Masker(keras.Layer):
        def call(self, x):
            return x

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    class ReadsMask(keras.Layer):
        def call(self, x, mask=None):
            return ops.where(mask, x, -1.0)

    x = np.array([1.0, 0.0, 2.0], np.float32)
    masked = Masker()(x)
    passed = layers.Dense(3, kernel_initializer="ones")  # supports masking: mask flows on
    assert masked._mask is not None
    out = ReadsMask()(layers.Activation("linear")(masked))
    np.testing.assert_allclose(out.numpy(), [1.0, -1.0, 2.0])
    assert passed.supports_masking


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="not built"):
        layers.Dense(2).count_params()


def test_compute_output_shape():
    assert layers.Dense(7).compute_output_shape((None, 3)) == (None, 7)
    assert layers.Flatten().compute_output_shape((None, 2, 5)) == (None, 10)


def test_dense_regularizers_constraints_and_their_config():
    import json

    dense = layers.Dense(
        3,
        kernel_regularizer="l2",
        activity_regularizer=keras.regularizers.L1(0.5),
        kernel_constraint=keras.constraints.NonNeg(),
    )
    model = keras.Sequential([keras.Input((4,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    model.fit(x, np.ones((8, 3), np.float32), epochs=2, verbose=0)
    assert dense.kernel.numpy().min() >= 0  # the constraint is applied after each update
    out = dense(x)
    kernel_penalty = 0.01 * np.sum(dense.kernel.numpy() ** 2)
    activity_penalty = 0.5 * np.sum(np.abs(out.numpy())) / 8
    values = sorted(float(v) for v in dense.losses)
    np.testing.assert_allclose(values, sorted([kernel_penalty, activity_penalty]), rtol=1e-5)
    config = json.loads(json.dumps(dense.get_config()))
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["kernel_constraint"]["class_name"] == "NonNeg"
    restored = layers.Dense.from_config(config)
    assert restored.get_config() == config
