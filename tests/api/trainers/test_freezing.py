"""`trainable`: the flags a compiled step captures at compile (tf.keras 2's rule), the
classic GAN pattern, and transfer learning (input/output accessors, get_layer, models built
from intermediate outputs, freeze then fine-tune)."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4)).astype("float32")
Z = RNG.normal(size=(16, 2)).astype("float32")
ONES = np.ones((16, 1), "float32")


def values(model):
    return [w.numpy() for w in model.weights]


def changed(before, model):
    return [not np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights, strict=True)]


def make_discriminator():
    return keras.Sequential(
        [keras.Input((4,)), layers.Dense(8, activation="relu"), layers.BatchNormalization(),
         layers.Dense(1, activation="sigmoid")], name="discriminator")  # fmt: skip


def test_trainable_weights_always_reflect_the_current_flags():
    model = make_discriminator()
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    model.layers[1].trainable = False  # BatchNormalization: gamma, beta frozen too
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 4
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    model.trainable = True
    assert len(model.trainable_weights) == 6


@pytest.mark.parametrize("eager", [False, True])
def test_the_classic_gan_pattern(eager):
    keras.utils.set_random_seed(0)
    discriminator = make_discriminator()
    discriminator.compile(optimizer="adam", loss="binary_crossentropy", run_eagerly=eager)
    discriminator.trainable = False
    generator = keras.Sequential([keras.Input((2,)), layers.Dense(4)], name="generator")
    gan = keras.Sequential([generator, discriminator])
    gan.compile(optimizer="adam", loss="binary_crossentropy", run_eagerly=eager)
    for _ in range(2):  # alternate, as tutorials do
        d_before, g_before = values(discriminator), values(generator)
        if eager:
            with pytest.warns(UserWarning, match="no trainable weights"):
                discriminator.train_on_batch(X, ONES)
        else:
            discriminator.train_on_batch(X, ONES)
        if eager:  # flags read at each step (Keras 3): the frozen discriminator stays put
            assert not any(changed(d_before, discriminator))
        else:  # compiled while trainable: kernels, biases, gamma, beta, moving statistics
            assert all(changed(d_before, discriminator))
        assert not any(changed(g_before, generator))
        d_before = values(discriminator)
        gan.train_on_batch(Z, ONES)
        assert not any(changed(d_before, discriminator))  # BatchNormalization in inference
        assert all(changed(g_before, generator))
    # Tracing with the compile-time flags leaves the current ones as they were.
    assert discriminator.trainable is False and discriminator.trainable_weights == []
    assert all(not w.trainable for w in discriminator.weights)


def test_recompiling_takes_a_changed_flag_into_account():
    model = make_discriminator()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.trainable = False
    before = values(model)
    model.fit(X, ONES, batch_size=16, verbose=0)
    assert all(changed(before, model))  # compiled while trainable
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    before = values(model)
    with pytest.warns(UserWarning, match="no trainable weights"):
        model.fit(X, ONES, batch_size=16, verbose=0)
    assert not any(changed(before, model))


def test_a_frozen_batch_normalization_runs_in_inference_mode():
    model = make_discriminator()
    bn = model.layers[1]
    bn.trainable = False
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    stats = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
    loss_inference = model.evaluate(X, ONES, batch_size=16, verbose=0)
    loss_train = model.train_on_batch(X, ONES)  # the loss before this step's update
    np.testing.assert_array_equal(bn.moving_mean.numpy(), stats[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), stats[1])
    # Batch statistics would give another loss than the moving ones (still 0 and 1).
    np.testing.assert_allclose(loss_train, loss_inference, rtol=1e-6)


# ---- transfer learning ----------------------------------------------------------------------


def make_base():
    image = keras.Input((8, 8, 1), name="image")
    h = layers.Conv2D(4, 3, activation="relu", name="conv1")(image)
    h = layers.Conv2D(6, 3, activation="relu", name="conv2")(h)
    return keras.Model(image, layers.Dense(10, name="head")(layers.Flatten()(h)), name="base")


def test_model_and_layer_inputs_and_outputs():
    base = make_base()
    assert base.input is base.inputs[0] and base.output is base.outputs[0]
    conv2 = base.get_layer("conv2")
    assert conv2.input is base.get_layer("conv1").output
    assert conv2.output.shape == (None, 4, 4, 6)
    assert base.get_layer(index=1) is base.get_layer("conv1")
    sequential = keras.Sequential([layers.Dense(3, name="d1"), layers.Dense(2, name="d2")])
    sequential(np.ones((1, 5), "float32"))  # a deferred Sequential gets its graph when called
    assert sequential.get_layer("d1").output is sequential.get_layer("d2").input
    assert sequential.input.shape == (None, 5) and sequential.output.shape == (None, 2)


def test_input_and_output_errors():
    with pytest.raises(ValueError, match="never been called"):
        _ = layers.Dense(2).output
    with pytest.raises(ValueError, match=r"No layer named 'conv9'"):
        make_base().get_layer("conv9")

    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(AttributeError, match="has no input tensor"):
        _ = Sub().input


def test_a_model_from_intermediate_outputs_shares_the_weights():
    base = make_base()
    features = keras.Model(base.input, base.get_layer("conv2").output)
    assert features.layers[1:] == [base.get_layer("conv1"), base.get_layer("conv2")]
    x = RNG.normal(size=(3, 8, 8, 1)).astype("float32")
    kernel = base.get_layer("conv1").kernel
    before = features.predict(x, verbose=0)
    kernel.assign(kernel.numpy() * 2.0)
    assert not np.allclose(features.predict(x, verbose=0), before)


def test_freeze_the_base_then_fine_tune():
    keras.utils.set_random_seed(0)
    base = make_base()
    features = keras.Model(base.input, base.get_layer("conv2").output)
    inputs = keras.Input((8, 8, 1))
    outputs = layers.Dense(3)(layers.GlobalAveragePooling2D()(features(inputs)))
    classifier = keras.Model(inputs, outputs)
    x = RNG.normal(size=(32, 8, 8, 1)).astype("float32")
    y = RNG.integers(0, 3, size=(32,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    features.trainable = False
    classifier.compile(optimizer="adam", loss=loss)
    base_before, head_before = values(base), values(classifier.layers[-1])
    classifier.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not any(changed(base_before, base))
    assert all(changed(head_before, classifier.layers[-1]))

    features.trainable = True
    classifier.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
    classifier.fit(x, y, batch_size=8, epochs=1, verbose=0)
    conv_changed = changed(base_before, base)[:4]  # conv1 and conv2; `head` is not used
    assert all(conv_changed) and not any(changed(base_before, base)[4:])
