"""The examples under docs/examples train: a DCGAN for a few hundred steps, a VAE whose
reconstruction loss halves, a WGAN-GP whose penalty and its gradient are right; compiled
steps give the eager steps' weights."""

import importlib
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from backend import compiler
from backend.testing import numeric_gradient

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in ("dcgan", "vae", "wgan_gp")}
    finally:
        sys.path.remove(str(EXAMPLES))


def _test_images(low, high):
    _, (x_test, _) = keras.datasets.digits.load_data()
    return (x_test.astype("float32") / 16.0 * (high - low) + low)[..., None]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_dcgan_trains_for_a_few_hundred_steps(examples):
    dcgan = examples["dcgan"]
    keras.utils.set_random_seed(0)
    gan = dcgan.make_gan()
    images, held_out = dcgan.load_images(), _test_images(-1.0, 1.0)
    z = keras.random.normal((len(held_out), dcgan.LATENT_DIM), seed=7)

    def generated_stats():
        fake = gan.generator.predict(z, verbose=0)
        mean_gap = np.linalg.norm(fake.mean(axis=0) - images.mean(axis=0))
        # The 1-Wasserstein distance between the two pixel value distributions.
        value_gap = np.abs(np.sort(fake.ravel()) - np.sort(held_out.ravel())).mean()
        return fake, mean_gap, value_gap

    _, mean_gap0, value_gap0 = generated_stats()
    accuracies = []
    for _ in range(6):  # 6 epochs of 47 steps
        history = gan.fit(images, batch_size=32, epochs=1, verbose=0)
        assert all(np.isfinite(v[-1]) for v in history.history.values())
        fake, _, _ = generated_stats()
        # The discriminator calls generated images 1, real ones 0.
        says_fake = _sigmoid(gan.discriminator.predict(fake, verbose=0)) > 0.5
        says_real = _sigmoid(gan.discriminator.predict(held_out, verbose=0)) < 0.5
        accuracies.append((says_fake.mean() + says_real.mean()) / 2)
    _, mean_gap, value_gap = generated_stats()
    assert max(accuracies) > 0.65  # it learned to tell them apart: not stuck at chance
    assert accuracies[-1] < 0.95  # and the generator keeps up: not perfect
    assert 0.3 < history.history["d_loss"][-1] < 0.75
    assert mean_gap < 0.5 * mean_gap0  # the average generated digit nears the data's
    assert value_gap < 0.25 * value_gap0  # and so do the pixel values' distribution


@pytest.mark.parametrize("compiled", [False, True])
def test_each_dcgan_update_leaves_the_other_network_alone(examples, compiled):
    dcgan = examples["dcgan"]
    keras.utils.set_random_seed(1)
    gan = dcgan.make_gan()
    real = dcgan.load_images()[:32]
    d_step = compiler.function(gan.d_step) if compiled else gan.d_step
    g_step = compiler.function(gan.g_step) if compiled else gan.g_step

    def snapshot(weights):
        return [w.numpy() for w in weights]

    def unchanged(before, weights):
        return [np.array_equal(a, w.numpy()) for a, w in zip(before, weights, strict=True)]

    for _ in range(2):
        d_before = snapshot(gan.discriminator.weights)
        g_before = snapshot(gan.generator.trainable_weights)
        d_step(real)
        assert not any(unchanged(d_before, gan.discriminator.weights))
        assert all(unchanged(g_before, gan.generator.trainable_weights))
        d_before = snapshot(gan.discriminator.weights)
        g_step(32)
        assert all(unchanged(d_before, gan.discriminator.weights))
        assert not any(unchanged(g_before, gan.generator.trainable_weights))


@pytest.mark.parametrize(
    "name, make, images",
    # 10 DCGAN steps; 2 WGAN-GP steps, each of 3 critic updates with the penalty
    # differentiated twice.
    [("dcgan", "make_gan", 320), ("wgan_gp", "make_wgan", 64)],
)
def test_compiled_and_eager_steps_give_the_same_weights(examples, name, make, images):
    example = examples[name]
    images = examples["dcgan"].load_images()[:images]  # the WGAN-GP example's data too
    weights = []
    for eager in (False, True):
        keras.utils.set_random_seed(2)
        model = getattr(example, make)()
        model.run_eagerly = eager
        history = model.fit(images, batch_size=32, epochs=1, shuffle=False, verbose=0)
        assert all(np.isfinite(v[-1]) for v in history.history.values())
        weights.append([w.numpy() for w in model.weights])
    for compiled, eager in zip(*weights, strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-6)


def test_dcgan_monitor_writes_png_grids_without_matplotlib(examples, tmp_path, monkeypatch):
    dcgan = examples["dcgan"]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    keras.utils.set_random_seed(3)
    gan = dcgan.make_gan()
    monitor = dcgan.GANMonitor(tmp_path, num_images=12)
    gan.fit(dcgan.load_images()[:64], batch_size=32, epochs=2, verbose=0, callbacks=[monitor])
    files = sorted(tmp_path.glob("*.png"))
    assert [f.name for f in files] == ["generated_001.png", "generated_002.png"]
    data = files[-1].read_bytes()
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    # 12 digits in rows of 8: 2 rows; 8x8 pixels and 1-pixel gaps, each drawn 4x4.
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and (depth, color) == (8, 0)
    assert (width, height) == (4 * (8 * 9 - 1), 4 * (2 * 9 - 1))


def test_vae_reconstruction_loss_halves(examples):
    vae_example = examples["vae"]
    keras.utils.set_random_seed(0)
    vae = vae_example.make_vae()
    images = vae_example.load_images()

    def reconstruction_loss():
        return float(vae_example.reconstruction_loss(images, vae.predict(images, verbose=0)))

    start = reconstruction_loss()
    assert abs(start - 64 * np.log(2)) < 2.0  # about a coin flip per pixel
    history = vae.fit(images, batch_size=32, epochs=6, verbose=0)
    assert reconstruction_loss() < 0.5 * start
    assert history.history["kl_loss"][-1] > 0.5  # the code carries information


def test_vae_kl_term_comes_from_add_loss(examples):
    vae_example = examples["vae"]
    keras.utils.set_random_seed(1)
    vae = vae_example.make_vae()
    images = vae_example.load_images()[:16]
    vae(images)
    (added,) = vae.losses  # what the Sampling layer added in this call
    z_mean, z_log_var, _ = vae.encoder.predict(images, verbose=0)
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var))
    np.testing.assert_allclose(float(added), kl.sum(axis=1).mean(), rtol=1e-5)


@pytest.fixture
def float64():
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx("float32")


def test_wgan_gp_penalty_gradient_matches_finite_differences(examples, float64):
    wgan_gp = examples["wgan_gp"]
    layers = keras.layers
    keras.utils.set_random_seed(0)
    critic = keras.Sequential(
        [keras.Input((4, 4, 1)), layers.Conv2D(2, 3, strides=2, padding="same"),
         layers.LeakyReLU(0.2), layers.Flatten(), layers.Dense(3, activation="tanh"),
         layers.Dense(1)])  # fmt: skip
    wgan = wgan_gp.WGAN(critic, generator=None)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 3, 4, 4, 1))
    weights = critic.trainable_weights

    def penalty_and_grads(real, fake):
        keras.utils.set_random_seed(5)  # the same mixing points every time
        with keras.GradientTape() as tape:
            penalty = wgan.gradient_penalty(real, fake)
        return [penalty, *tape.gradient(penalty, weights)]

    eager = penalty_and_grads(keras.ops.convert_to_tensor(real), keras.ops.convert_to_tensor(fake))
    keras.utils.set_random_seed(5)
    compiled_fn = compiler.function(penalty_and_grads)
    compiled = compiled_fn(real, fake)
    assert np.isfinite(float(eager[0])) and float(eager[0]) > 0
    np.testing.assert_allclose(compiled[0], float(eager[0]), rtol=1e-10)
    for i, variable in enumerate(weights):
        original = variable.numpy()

        def penalty_at(arrays, variable=variable):
            variable.assign(arrays[0])
            keras.utils.set_random_seed(5)
            return float(wgan.gradient_penalty(real, fake))

        expected = numeric_gradient(penalty_at, [original], 0)
        variable.assign(original)
        for ours in (eager[i + 1], compiled[i + 1]):
            ours = np.zeros_like(expected) if ours is None else np.asarray(ours)
            np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-8, err_msg=variable.path)
