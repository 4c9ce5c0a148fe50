"""`kernels.compare.same_bits` against numpy's bitwise comparison: equal arrays, one element
changed anywhere (in a full block, the last block, the tail), signed zeros, NaN payloads,
each float width, strided views and mismatched shapes or dtypes."""

import numpy as np
import pytest

from backend.kernels.compare import same_bits

rng = np.random.default_rng(0)


def _bitwise_equal(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
@pytest.mark.parametrize("size", [1, 63, 64, 65, 200, 4099])
def test_equal_and_one_change_anywhere(dtype, size):
    a = (rng.standard_normal(size) * 100).astype(dtype)
    assert same_bits(a, a.copy()) and _bitwise_equal(a, a.copy())
    for position in {0, size // 2, size - 1, max(0, size - 65)}:
        b = a.copy()
        b[position] = b[position] + 1 if b[position] != -1 else 5
        assert same_bits(a, b) == _bitwise_equal(a, b) is False


def test_signed_zero_and_nan_payloads_are_changes():
    a = np.zeros(130, np.float32)
    b = a.copy()
    b[129] = -0.0
    assert not same_bits(a, b)
    nan1 = np.array([np.nan] * 70, np.float32)
    nan2 = nan1.copy()
    nan2.view(np.uint32)[3] ^= 1  # another NaN payload
    assert np.isnan(nan2).all()
    assert same_bits(nan1, nan1.copy()) and not same_bits(nan1, nan2)


def test_two_dimensional_strided_and_mismatched():
    a = rng.standard_normal((50, 40)).astype(np.float32)
    assert same_bits(a, a.copy())
    assert same_bits(a.T, np.array(a.T))  # strided: the fallback
    b = np.array(a.T)
    b[3, 7] += 1
    assert not same_bits(a.T, b)
    assert not same_bits(a, a.reshape(40, 50))
    assert not same_bits(a, a.astype(np.float64))
    assert same_bits(np.empty((0, 3), np.float32), np.empty((0, 3), np.float32))
    c = (rng.standard_normal(9) + 1j * rng.standard_normal(9)).astype(np.complex64)
    d = c.copy()
    d[8] = np.conj(d[8])
    assert same_bits(c, c.copy()) and not same_bits(c, d)
