"""Random ops: distributions, seeding semantics, dropout, shuffle, and symbolic replay."""

import random as python_random

import numpy as np
import pytest

import backend
from backend import random as R
from backend.graph import evaluate
from backend.tensor import SymbolicTensor, Tensor

N = 100_000


def _np(x):
    return np.asarray(x.numpy())


# ---- distributions ---------------------------------------------------------------------


@pytest.mark.parametrize("mean, stddev", [(0.0, 1.0), (2.0, 3.0)])
def test_normal_statistics(mean, stddev):
    x = _np(R.normal((N,), mean=mean, stddev=stddev, seed=0))
    assert x.dtype == np.float32
    assert abs(x.mean() - mean) < 5 * stddev / np.sqrt(N)
    assert abs(x.std() / stddev - 1) < 0.01


def test_truncated_normal_statistics():
    x = _np(R.truncated_normal((N,), mean=1.0, stddev=2.0, seed=0, dtype="float64"))
    assert x.dtype == np.float64
    assert np.all(np.abs(x - 1.0) <= 4.0)
    assert abs(x.mean() - 1.0) < 0.03
    assert abs(x.std() / (0.8796 * 2.0) - 1) < 0.01


def test_uniform_statistics_and_bounds():
    x = _np(R.uniform((N,), minval=-2.0, maxval=3.0, seed=0))
    assert x.min() >= -2.0 and x.max() < 3.0
    assert abs(x.mean() - 0.5) < 0.03
    assert abs(x.std() - 5 / np.sqrt(12)) < 0.02
    half = _np(R.uniform((N,), minval=0.0, maxval=1.0, dtype="float16", seed=1))
    assert half.dtype == np.float16 and half.min() >= 0 and half.max() < 1


def test_randint_range_and_coverage():
    x = _np(R.randint((N,), minval=-3, maxval=4, seed=0))
    assert x.dtype == np.int32
    assert sorted(set(x.tolist())) == list(range(-3, 4))
    counts = np.bincount(x + 3)
    assert np.all(np.abs(counts / N - 1 / 7) < 0.01)
    assert R.randint((4,), 0, 200, dtype="uint8", seed=0).dtype == "uint8"


def test_shapes_and_default_dtypes():
    assert R.normal((2, 3), seed=1).shape == (2, 3)
    assert R.uniform(5, seed=1).shape == (5,)
    assert R.normal((), seed=1).shape == ()
    assert isinstance(R.normal((2,), seed=1), Tensor)
    backend.set_floatx("float64")
    try:
        assert R.normal((2,), seed=1).dtype == "float64"
        assert R.uniform((2,), seed=1).dtype == "float64"
    finally:
        backend.set_floatx("float32")
    assert R.truncated_normal((2,), seed=1).dtype == "float32"


# ---- seeding ---------------------------------------------------------------------------


@pytest.mark.parametrize("draw", [R.normal, R.uniform, R.truncated_normal])
def test_int_seed_repeats(draw):
    a, b = _np(draw((50,), seed=7)), _np(draw((50,), seed=7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _np(draw((50,), seed=8)))


def test_seed_generator_advances_and_is_reproducible():
    gen, twin = R.SeedGenerator(42), R.SeedGenerator(42)
    first = [_np(R.normal((20,), seed=gen)) for _ in range(3)]
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[1], first[2])
    for a in first:
        np.testing.assert_array_equal(a, _np(R.normal((20,), seed=twin)))
    assert gen.state == (42, 3) and all(type(v) is int for v in gen.state)
    assert gen.get_config() == {"seed": 42}
    assert R.SeedGenerator.from_config(gen.get_config()).state == (42, 0)


def test_seed_generator_state_resumes_stream():
    gen = R.SeedGenerator(5)
    R.uniform((3,), seed=gen)
    saved = gen.state
    a = _np(R.uniform((3,), seed=gen))
    gen.state = saved
    np.testing.assert_array_equal(a, _np(R.uniform((3,), seed=gen)))


def test_int_seed_differs_from_generator_with_same_seed():
    a = _np(R.normal((10,), seed=3))
    b = _np(R.normal((10,), seed=R.SeedGenerator(3)))
    assert not np.array_equal(a, b)


def test_set_random_seed_makes_unseeded_calls_reproducible():
    def program():
        gen = R.SeedGenerator()  # seeded from the global generator
        return [
            _np(R.normal((5,))),
            _np(R.uniform((5,))),
            _np(R.normal((5,), seed=gen)),
            _np(R.dropout(np.ones((8,), "float32"), 0.5)),
            python_random.random(),
            np.random.rand(),
        ]

    R.set_random_seed(123)
    first = program()
    R.set_random_seed(123)
    second = program()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], _np(R.normal((5,))))  # the global stream advances
    R.set_random_seed(124)
    assert not np.array_equal(first[0], _np(R.normal((5,))))


def test_set_random_seed_rejects_bad_seeds():
    for bad in (-1, 1.5, "3", True, 2**32, None):
        with pytest.raises(ValueError, match="seed"):
            R.set_random_seed(bad)


def test_bad_seed_arguments():
    with pytest.raises(TypeError, match="seed"):
        R.normal((2,), seed="1")
    with pytest.raises(TypeError, match="seed"):
        R.uniform((2,), seed=1.0)
    with pytest.raises(ValueError, match="seed=-1"):
        R.normal((2,), seed=-1)
    with pytest.raises(TypeError, match="seed"):
        R.SeedGenerator("a")
    with pytest.raises(TypeError, match="seed"):
        R.dropout(np.ones(3, "float32"), 0.5, seed=[1])


def test_bad_dtype_and_shape_arguments():
    with pytest.raises(TypeError, match="dtype"):
        R.normal((2,), dtype="int32")
    with pytest.raises(TypeError, match="dtype"):
        R.uniform((2,), dtype="bool")
    with pytest.raises(TypeError, match="dtype"):
        R.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(TypeError, match="dtype"):
        R.normal((2,), dtype="complex64")
    with pytest.raises(ValueError, match="shape"):
        R.normal((2, -1))
    with pytest.raises(ValueError, match="shape"):
        R.uniform((None, 2))
    with pytest.raises(ValueError, match="minval"):
        R.randint((2,), 3, 3)
    with pytest.raises(ValueError, match="minval"):
        R.randint((2,), 0, 300, dtype="uint8")
    with pytest.raises(TypeError, match="maxval"):
        R.randint((2,), 0, 2.5)
    with pytest.raises(TypeError, match="stddev"):
        R.normal((2,), stddev="big")


# ---- dropout ---------------------------------------------------------------------------


def test_dropout_keeps_one_minus_rate_and_scales():
    x = np.random.default_rng(0).uniform(1.0, 2.0, size=(N,)).astype("float32")
    y = _np(R.dropout(x, rate=0.3, seed=0))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_gradient_is_mask_over_keep():
    x = Tensor(np.random.default_rng(1).uniform(1.0, 2.0, size=(6, 7)).astype("float32"))
    with backend.GradientTape() as tape:
        tape.watch(x)
        y = R.dropout(x, rate=0.4, seed=R.SeedGenerator(0))
    grad = _np(tape.gradient(y, x))
    mask = _np(y) != 0
    np.testing.assert_allclose(grad, mask / 0.6, rtol=1e-6)


def test_dropout_noise_shape_broadcasts():
    x = np.ones((64, 8), "float32")
    rows = _np(R.dropout(x, 0.5, noise_shape=(None, 1), seed=0))
    assert np.all(rows == rows[:, :1])  # one draw per row
    assert 0 < (rows[:, 0] != 0).sum() < 64
    cols = _np(R.dropout(x, 0.5, noise_shape=(1, 8), seed=0))
    assert np.all(cols == cols[:1])
    with pytest.raises(ValueError, match="noise_shape"):
        R.dropout(x, 0.5, noise_shape=(64,))
    with pytest.raises(ValueError, match="noise_shape"):
        R.dropout(x, 0.5, noise_shape=(3, 8))


def test_dropout_rate_edges_and_errors():
    x = np.arange(1, 7, dtype="float32")
    np.testing.assert_array_equal(_np(R.dropout(x, 0.0, seed=1)), x)
    assert R.dropout(np.arange(4), 0.5, seed=1).dtype == "float32"  # ints become floatx
    for bad in (1.0, -0.1, 1.5, "half", None):
        with pytest.raises(ValueError, match="rate"):
            R.dropout(x, bad)


# ---- shuffle ---------------------------------------------------------------------------


def test_shuffle_permutes_along_axis():
    x = np.arange(40, dtype="float32").reshape(10, 4)
    y0 = _np(R.shuffle(x, seed=0))
    assert sorted(map(tuple, y0)) == sorted(map(tuple, x)) and not np.array_equal(y0, x)
    y1 = _np(R.shuffle(x, axis=-1, seed=0))
    assert sorted(map(tuple, y1.T)) == sorted(map(tuple, x.T))
    np.testing.assert_array_equal(y0, _np(R.shuffle(x, seed=0)))
    t = Tensor(x)
    with backend.GradientTape() as tape:
        tape.watch(t)
        y = R.shuffle(t, seed=R.SeedGenerator(2))
        loss = backend.ops.sum(y * y)
    np.testing.assert_allclose(_np(tape.gradient(loss, t)), 2 * x)  # flows back through take
    with pytest.raises(ValueError, match="axis"):
        R.shuffle(x, axis=2)
    with pytest.raises(ValueError, match="axis"):
        R.shuffle(np.float32(1.0))


# ---- symbolic graphs -------------------------------------------------------------------


def _run_twice(outputs, feed):
    return evaluate(outputs, feed), evaluate(outputs, feed)


@pytest.mark.parametrize("draw", [R.normal, R.uniform, R.truncated_normal])
def test_symbolic_scope_replays_draws(draw):
    with backend.symbolic_scope():
        by_generator = draw((30,), seed=R.SeedGenerator(0))
        by_int = draw((30,), seed=0)
        ints = R.randint((30,), 0, 1000, seed=R.SeedGenerator(1))
    assert isinstance(by_generator, SymbolicTensor) and by_generator.shape == (30,)
    (g1, i1, n1), (g2, i2, n2) = _run_twice([by_generator, by_int, ints], {})
    assert not np.array_equal(g1, g2) and not np.array_equal(n1, n2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(i1, _np(draw((30,), seed=0)))  # same as eager


def test_symbolic_dropout_with_unknown_dims():
    x = backend.symbolic((None, 16))
    fresh = R.dropout(x, 0.5, seed=R.SeedGenerator(0))
    fixed = R.dropout(x, 0.5, noise_shape=(None, 1), seed=3)
    assert fresh.shape == (None, 16) and fresh.dtype == "float32"
    feed = {x: np.ones((8, 16), "float32")}
    (f1, d1), (f2, d2) = _run_twice([fresh, fixed], feed)
    assert f1.shape == (8, 16) and not np.array_equal(f1, f2)
    np.testing.assert_array_equal(d1, d2)
    assert np.all(d1 == d1[:, :1])
    grad = backend.gradients([backend.ops.sum(fresh)], [x])[0]
    y, g = evaluate([fresh, grad], feed)  # one run: the gradient sees the same mask
    np.testing.assert_allclose(g, (y != 0) / 0.5)


def test_symbolic_shuffle_with_unknown_dims():
    x = backend.symbolic((None, 3))
    gen_out = R.shuffle(x, seed=R.SeedGenerator(0))
    int_out = R.shuffle(x, seed=0)
    assert gen_out.shape == (None, 3)
    value = np.arange(60, dtype="float32").reshape(20, 3)
    (g1, i1), (g2, i2) = _run_twice([gen_out, int_out], {x: value})
    assert sorted(map(tuple, g1)) == sorted(map(tuple, value))
    assert not np.array_equal(g1, g2)
    np.testing.assert_array_equal(i1, i2)


def test_set_random_seed_reseeds_traced_graphs():
    with backend.symbolic_scope():
        out = R.normal((4,))
    R.set_random_seed(9)
    a = evaluate([out], {})[0]
    R.set_random_seed(9)
    np.testing.assert_array_equal(a, evaluate([out], {})[0])


def test_kerasish_reexports():
    import kerasish

    assert set(R.__all__) <= set(dir(kerasish.random))
    assert kerasish.utils.set_random_seed is R.set_random_seed
