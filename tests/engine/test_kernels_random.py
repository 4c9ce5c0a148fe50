"""backend.kernels.random.bernoulli: the SplitMix64 mask against a plain-numpy reference bit
for bit, its frequencies, serial and threaded (bit-identical), the argument checks; and the
dropout mask it draws, the same eagerly and in a compiled Plan."""

import numpy as np
import pytest

from backend.kernels import random as krandom
from backend.testing import same_bits_any_threads


def ref_bernoulli(key, p, n, dtype):
    """The same stream in numpy's wrapping uint64 arithmetic."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + i * np.uint64(krandom.GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(krandom.MIX_1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(krandom.MIX_2)
        z = z ^ (z >> np.uint64(31))
    threshold = min(round(p * 2**32), 2**32)
    return ((z >> np.uint64(32)) < np.uint64(threshold)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_bernoulli_matches_numpy_and_its_frequency(p, dtype):
    n, key = 300_001, 2**64 - 12345  # long enough for the threaded branch; a key near the top

    def call():
        out = np.full(n, np.nan, dtype)
        krandom.bernoulli(key, p, out)
        return out

    out = same_bits_any_threads(call)
    np.testing.assert_array_equal(out, ref_bernoulli(key, p, n, dtype))
    assert abs(out.mean() - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_bernoulli_keys_give_independent_streams():
    a, b = np.empty(10_000, np.float32), np.empty(10_000, np.float32)
    krandom.bernoulli(1, 0.5, a)
    krandom.bernoulli(2, 0.5, b)
    assert 0.45 < (a == b).mean() < 0.55  # as two independent fair coins agree
    krandom.bernoulli(1, 0.5, b)
    assert a.tobytes() == b.tobytes()


def test_bernoulli_checks():
    out = np.empty(4, np.float32)
    with pytest.raises(ValueError, match="bernoulli: p must be in"):
        krandom.bernoulli(1, 1.5, out)
    with pytest.raises(ValueError, match="bernoulli: key must be in"):
        krandom.bernoulli(-1, 0.5, out)
    with pytest.raises(ValueError, match="bernoulli: out must be 1-D"):
        krandom.bernoulli(1, 0.5, out.reshape(2, 2))
    with pytest.raises(TypeError, match="bernoulli: out must be float32 or float64"):
        krandom.bernoulli(1, 0.5, np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="bernoulli: out must be C-contiguous"):
        krandom.bernoulli(1, 0.5, np.empty(8, np.float32)[::2])


def test_dropout_mask_is_the_same_eagerly_and_compiled():
    from backend import compiler
    from backend import random as R

    x = np.ones((64, 50), np.float32)
    f = compiler.function(lambda x: R.dropout(x, 0.3, seed=7))
    eager = R.dropout(x, 0.3, seed=7).numpy()
    compiled = f(x)
    assert compiled.tobytes() == eager.tobytes()
    assert "random_bernoulli" in f.plan_for(x).describe()
    kept = eager != 0
    np.testing.assert_allclose(eager[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.21 / x.size)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(krandom, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0
