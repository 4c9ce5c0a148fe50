"""Fused kernels whose outputs are their own inputs' buffers (updates in place)."""

import inspect
import platform
import re

import numba
import numpy as np
import pytest

from backend import Variable, compiler, ops
from backend.compiler import fusion

N = fusion.ALIAS_CHECK_SIZE * 2
BODY = ["t0 = (a0 * s1)", "t1 = (t0 + a2)", "t2 = np.sqrt(t1)"]
KINDS = ["full", "scalar", "full"]


def _leaves():
    rng = np.random.default_rng(0)
    x = rng.random(N, dtype=np.float32)
    y = rng.random(N, dtype=np.float32)
    return x, np.array([2.0], np.float32), y


def _expected(x, s, y):
    t1 = x * s[0] + y
    return np.sqrt(t1), t1


@pytest.mark.parametrize("target", ["first", "second", "none"])
def test_an_output_written_into_an_input_buffer_is_computed_from_the_old_values(target):
    x, s, y = _leaves()
    expected = _expected(x, s, y)
    run = fusion.runner(BODY, KINDS, [2, 1], (N,), 3)
    out_sqrt = x if target == "first" else np.empty(N, np.float32)
    out_sum = y if target == "second" else np.empty(N, np.float32)
    run(x, s, y, out_sqrt, out_sum)
    np.testing.assert_allclose(out_sqrt, expected[0], rtol=1e-6)
    np.testing.assert_allclose(out_sum, expected[1], rtol=1e-6)


def test_an_output_overlapping_an_input_at_an_offset_is_not_taken_for_it():
    x, s, y = _leaves()
    base = np.zeros(N + 1, np.float32)
    base[:N] = y
    shifted = base[1:]  # overlaps y's buffer one element on: not y
    assert fusion._same_buffer_leaf(shifted, [x, s, base[:N]], [0, 2]) is None
    assert fusion._same_buffer_leaf(base[:N], [x, s, base[:N]], [0, 2]) == 2


def test_a_kernel_naming_its_in_place_output_once_takes_one_argument_fewer():
    plain = fusion.generate_source("fused", BODY, KINDS, False, [2, 1])
    in_place = fusion.generate_source("fused", BODY, KINDS, False, [2, 1], [None, 2])
    assert "in0, in1, in2, out0, out1)" in plain
    assert "in0, in1, in2, out0)" in in_place and "in2[i] = t1" in in_place


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 assembly")
def test_an_adam_like_update_in_place_runs_the_vectorized_loop():
    # An update writing m, v and w into their own buffers: with each buffer passed once, the
    # loop vectorizes (packed square roots); passed as input and output, it did not.
    n = N
    w, m, v = (Variable(np.full(n, value, "float32")) for value in (1.0, 0.5, 0.25))

    def update(g):
        m.assign(ops.add(ops.multiply(m, 0.9), ops.multiply(g, 0.1)))
        v.assign(ops.add(ops.multiply(v, 0.99), ops.multiply(ops.square(g), 0.01)))
        w.assign(ops.subtract(w, ops.divide(m, ops.add(ops.sqrt(v), 1e-7))))
        return []

    g = np.linspace(-1, 1, n).astype("float32")
    step = compiler.function(update)
    step(g)
    m_new = 0.5 * 0.9 + g * 0.1
    v_new = 0.25 * 0.99 + g**2 * 0.01
    np.testing.assert_allclose(w.numpy(), 1.0 - m_new / (np.sqrt(v_new) + 1e-7), rtol=1e-6)
    in_place = [k for k in fusion._loaded.values() if k.signatures and _stores_into_a_leaf(k)]
    assert in_place, "no fused kernel was generated with an output in its input's buffer"
    assembly = "".join(_assembly(k.py_func, sig) for k in in_place for sig in k.signatures)
    assert "sqrtps" in assembly


def _stores_into_a_leaf(kernel) -> bool:
    return re.search(r"\bin\d+\[i\] = t", inspect.getsource(kernel.py_func)) is not None


def _assembly(func, signature) -> str:
    """`func`'s machine code for `signature`, compiled afresh (a kernel loaded from the
    cache has none to show)."""
    fresh = numba.njit(func)
    fresh.compile(signature)
    return fresh.inspect_asm(signature)
