"""The erf kernel: libm's erf in float64 per element, rounded to the array's dtype, with the
bits of `math.erf` element by element (the eager path's before it), on any thread count."""

import math

import numpy as np
import pytest

from backend import compiler, config, ops
from backend.kernels import special

SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 3.9, 5.9, 6.0, 26.0, -30.0, np.inf, -np.inf, np.nan]


def _reference(x):
    return (
        np.array([math.erf(float(v)) for v in x.ravel()], np.float64)
        .astype(x.dtype)
        .reshape(x.shape)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_erf_gives_the_bits_of_math_erf(dtype, threads, monkeypatch):
    monkeypatch.setattr(config, "_parallel_threshold", 0)  # shares start inside the array
    monkeypatch.setattr(config, "_num_threads", threads)
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(4006) * 3, SPECIAL]).astype(dtype).reshape(15, 268)
    out = np.full_like(x, 7.0)
    special.erf_into(x, out)
    want = _reference(x)
    nan = np.isnan(want)
    assert (np.isnan(out) == nan).all()
    assert out[~nan].tobytes() == want[~nan].tobytes()


def test_erf_argument_errors_name_the_kernel():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="erf_into: x must be float32 or float64"):
        special.erf_into(x.astype(np.float16), x)
    with pytest.raises(ValueError, match=r"erf_into: out must have shape \(2, 3\)"):
        special.erf_into(x, np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="erf_into: out must be float32"):
        special.erf_into(x, np.zeros((2, 3), np.float64))


def test_exact_gelu_in_a_plan_runs_the_kernel_and_matches_eager():
    def fn(x):
        return ops.gelu(x, approximate=False), ops.erf(x)

    f = compiler.function(fn)
    x = np.random.default_rng(3).standard_normal((64, 33)).astype("float32")
    got = f(x)
    want = [t.numpy() for t in fn(x)]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32 and g.tobytes() == w.tobytes()
    assert got[1].tobytes() == _reference(x).tobytes()
    erf_steps = [s for s in f.plan_for(x).steps if s.name == "erf"]
    assert len(erf_steps) == 2 and all(s.run.__name__ == "_erf_into" for s in erf_steps)
    # float16 (no kernel) keeps math.erf per element
    half = ops.erf(x.astype("float16")).numpy()
    assert half.dtype == np.float16 and half.tobytes() == _reference(x.astype("float16")).tobytes()


def test_docstring_examples():
    import doctest

    assert doctest.testmod(special).failed == 0


def test_relu_value_docstring_examples():
    import doctest

    from backend.kernels import scalar_ops

    result = doctest.testmod(scalar_ops)
    assert result.failed == 0 and result.attempted > 0
