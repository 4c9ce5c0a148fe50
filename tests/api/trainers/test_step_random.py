"""Random ops inside custom steps and layers: fresh draws at every step, the same numbers
compiled and eager, reproducible under set_random_seed."""

import numpy as np

import kerasish as keras
from kerasish import layers, ops

X = np.arange(24, dtype="float32").reshape(8, 3) / 10.0


NAMES = ["normal_none", "uniform_gen", "truncated_gen", "randint_none", "categorical_none",
         "shuffle_gen", "dropout_none", "normal_int"]  # fmt: skip


class Drawing(keras.Model):
    """Draws every kind of random value in its step and stores them in Variables."""

    def __init__(self):
        super().__init__()
        self.gen = keras.random.SeedGenerator(11)
        shapes = {"categorical_none": (4, 3)}
        self.store = {
            name: keras.Variable(np.zeros(shapes.get(name, (4, 2))), trainable=False)
            for name in NAMES
        }

    def train_step(self, x):
        n = ops.shape(x)[0]
        draws = {
            "normal_none": keras.random.normal((n, 2)),
            "uniform_gen": keras.random.uniform((n, 2), seed=self.gen),
            "truncated_gen": keras.random.truncated_normal((n, 2), seed=self.gen),
            "randint_none": ops.cast(keras.random.randint((n, 2), 0, 100), "float32"),
            "categorical_none": ops.cast(keras.random.categorical(ops.zeros((n, 3)), 3), "float32"),
            "shuffle_gen": ops.cast(
                keras.random.shuffle(ops.reshape(ops.arange(n * 2), (n, 2)), seed=self.gen),
                "float32",
            ),
            "dropout_none": keras.random.dropout(ops.ones((n, 2)), 0.5),
            "normal_int": keras.random.normal((n, 2), seed=5),
        }
        unused = keras.random.normal((n, 2), seed=self.gen)  # pruned; it still counts
        del unused
        for name, value in draws.items():
            self.store[name].assign(value)
        return {"normal_mean": ops.mean(draws["normal_none"])}


def _run(eager, steps, seed=3):
    keras.utils.set_random_seed(seed)
    model = Drawing()
    model.compile(run_eagerly=eager)
    history = []
    for _ in range(steps):
        model.train_on_batch(X[:4])
        history.append({k: v.numpy() for k, v in model.store.items()})
    return history, model.gen.state


def test_draws_in_a_step_are_the_same_compiled_and_eager():
    compiled, compiled_state = _run(False, 3)
    eager, eager_state = _run(True, 3)
    assert compiled_state == eager_state  # as many draws from the generator, both ways
    for step_compiled, step_eager in zip(compiled, eager, strict=True):
        for name in step_compiled:
            np.testing.assert_array_equal(step_compiled[name], step_eager[name], err_msg=name)


def test_draws_are_fresh_each_step_except_int_seeded_ones():
    history, _ = _run(False, 2)
    first, second = history
    for name in first:
        if name == "normal_int":
            np.testing.assert_array_equal(first[name], second[name])
        elif name != "categorical_none":  # 4x3 draws of 3 classes may repeat; checked below
            assert not np.array_equal(first[name], second[name]), name
    assert sorted(first["shuffle_gen"].ravel().tolist()) == list(range(8))


def test_set_random_seed_makes_a_run_reproducible():
    a, _ = _run(False, 2, seed=7)
    b, _ = _run(False, 2, seed=7)
    c, _ = _run(False, 2, seed=8)
    for name in a[1]:
        np.testing.assert_array_equal(a[1][name], b[1][name])
    assert not np.array_equal(a[1]["normal_none"], c[1]["normal_none"])


def test_unseeded_draw_matches_the_global_generators_stream():
    # The step's unseeded draw is the global generator's next draw, as eager code's is.
    keras.utils.set_random_seed(4)
    expected = keras.random.normal((4, 2)).numpy()
    history, _ = _run(False, 1, seed=4)
    np.testing.assert_array_equal(history[0]["normal_none"], expected)


def make_noisy_parts():
    """A sub-model with every random layer, called from a custom step."""
    inputs = keras.Input((6, 6, 2))
    h = layers.GaussianNoise(0.3, seed=1)(inputs)
    h = layers.SpatialDropout2D(0.3, seed=2)(h)
    h = layers.Conv2D(4, 3, padding="same")(h)
    h = layers.GaussianDropout(0.2, seed=3)(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.4, seed=4)(h)
    return keras.Model(inputs, layers.Dense(2)(h))


class NoisyStep(keras.Model):
    def __init__(self):
        super().__init__()
        self.net = make_noisy_parts()

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self.net(x, training=True) - y))
        grads = tape.gradient(loss, self.net.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.net.trainable_weights, strict=True))
        return {"loss": loss}


def test_dropout_and_noise_layers_in_sub_models_draw_the_same_masks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    results = []
    for eager in (False, True):
        keras.utils.set_random_seed(0)
        model = NoisyStep()
        model.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=eager)
        history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        results.append((history.history["loss"], model.net.get_weights()))
    (loss_c, w_c), (loss_e, w_e) = results
    assert np.all(np.isfinite(loss_c))
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-5)
    for a, b in zip(w_c, w_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
