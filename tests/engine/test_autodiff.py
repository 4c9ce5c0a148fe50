"""GradientTape and the reverse-mode walk: structure, accumulation, unconnected sources,
stop_gradient, integer inputs, persistence, nesting and symbolic graphs."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, Variable, gradients, graph, ops


def t64(x):
    return Tensor(np.asarray(x, dtype=np.float64))


def test_trainable_variables_are_watched_automatically():
    w = Variable(np.array([1.0, 2.0]))
    frozen = Variable(np.array([3.0]), trainable=False)
    with GradientTape() as tape:
        y = ops.sum(w * w) + ops.sum(frozen * w[0])
    gw, gf = tape.gradient(y, [w, frozen])
    np.testing.assert_allclose(gw.numpy(), [2.0 + 3.0, 4.0])
    assert gf is None


def test_watch_accessed_variables_false():
    w = Variable(2.0)
    with GradientTape(watch_accessed_variables=False) as tape:
        y = w * w
    assert tape.gradient(y, w) is None


def test_gradient_structure_follows_sources():
    a, b = t64([1.0, 2.0]), t64(3.0)
    with GradientTape(persistent=True) as tape:
        tape.watch({"a": a, "b": [b]})
        y = ops.sum(a * b)
    grads = tape.gradient(y, {"a": a, "b": [b], "c": (a,)})
    assert set(grads) == {"a", "b", "c"}
    np.testing.assert_allclose(grads["a"].numpy(), [3.0, 3.0])
    assert isinstance(grads["b"], list) and float(grads["b"][0]) == 3.0
    assert isinstance(grads["c"], tuple)
    single = tape.gradient(y, b)
    assert isinstance(single, Tensor) and float(single) == 3.0


def test_nonscalar_target_is_summed_and_output_gradients_seed():
    x = t64([1.0, 2.0, 3.0])
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])
    seeded = tape.gradient(y, x, output_gradients=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(seeded.numpy(), [2.0, 0.0, 12.0])


def test_gradients_accumulate_over_reuse_and_broadcast():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    b = t64([10.0, 20.0])
    with GradientTape() as tape:
        tape.watch([x, b])
        y = ops.sum(x * b + b * b + x)
    gx, gb = tape.gradient(y, [x, b])
    np.testing.assert_allclose(gx.numpy(), [[11.0, 21.0], [11.0, 21.0]])
    np.testing.assert_allclose(gb.numpy(), [1 + 3 + 2 * 2 * 10, 2 + 4 + 2 * 2 * 20])


def test_unconnected_and_stop_gradient():
    x, z = t64([1.0]), t64([5.0])
    with GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = ops.sum(x * ops.stop_gradient(x * 3.0))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3.0])
    assert tape.gradient(y, z) is None
    np.testing.assert_allclose(tape.gradient(y, z, unconnected_gradients="zero").numpy(), [0.0])


def test_integer_inputs_get_no_gradient():
    w = Variable(np.ones(3))
    idx = Tensor(np.array([0, 2], np.int32))
    with GradientTape() as tape:
        tape.watch(idx)
        y = ops.sum(ops.take(w, idx) * ops.cast(idx, "float32"))
    gw, gi = tape.gradient(y, [w, idx])
    np.testing.assert_allclose(gw.numpy(), [0.0, 0.0, 2.0])
    assert gi is None


def test_non_persistent_tape_used_twice_is_an_error():
    x = t64(2.0)
    with GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_tape_does_not_see_history_from_before_it():
    x = t64(2.0)
    with GradientTape() as first:
        first.watch(x)
        y = x * x
    with GradientTape() as second:
        z = y * 3.0  # y was computed before `second` started, and is not watched by it
    assert second.gradient(z, x) is None


def test_bad_arguments():
    x = t64(1.0)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(TypeError, match="target"):
        tape.gradient(3.0, x)
    with pytest.raises(TypeError, match="sources"):
        tape.gradient(y, [np.ones(2)])
    with pytest.raises(TypeError, match="watch"):
        tape.watch(np.ones(2))
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="maybe")


def test_second_order_through_matmul_and_reduction():
    a_np = np.array([[1.0, 2.0], [0.5, -1.0]])
    x = t64([0.3, -0.7])
    a = t64(a_np)
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.power(ops.matmul(a, x), 3.0))
        g = inner.gradient(y, x)  # 3 * A^T (Ax)^2
        gsum = ops.sum(g)
    hess_row_sum = outer.gradient(gsum, x)
    ax = a_np @ x.numpy()
    np.testing.assert_allclose(g.numpy(), 3 * a_np.T @ ax**2)
    # d/dx sum(3 A^T (Ax)^2) = 6 A^T diag(Ax) A summed over rows
    expected = (6 * a_np.T @ np.diag(ax) @ a_np).sum(axis=0)
    np.testing.assert_allclose(hess_row_sum.numpy(), expected)


def test_persistent_tape_records_its_own_gradient():
    x = t64(1.5)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.exp(x * x)
        dy = tape.gradient(y, x)  # computed while recording
    d2y = tape.gradient(dy, x)
    np.testing.assert_allclose(float(d2y), (2 + 4 * 1.5**2) * np.exp(1.5**2))


def test_symbolic_gradients_match_eager():
    x_np = np.random.default_rng(0).standard_normal((4, 3))
    w = Variable(np.random.default_rng(1).standard_normal((3, 2)), dtype="float64")
    x = SymbolicTensor((None, 3), "float64")
    loss = ops.mean(ops.square(ops.tanh(ops.matmul(x, w))))
    gx, gw = gradients([loss], [x, w])
    assert gx.shape == (None, 3) and gw.shape == (3, 2)
    sym_gx, sym_gw = graph.evaluate([gx, gw], {x: x_np})
    xt = Tensor(x_np)
    with GradientTape() as tape:
        tape.watch(xt)
        eager = ops.mean(ops.square(ops.tanh(ops.matmul(xt, w))))
    egx, egw = tape.gradient(eager, [xt, w])
    np.testing.assert_allclose(sym_gx, egx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sym_gw, egw.numpy(), rtol=1e-12)


def test_variable_read_keeps_value_used_in_forward():
    w = Variable(np.array([2.0]))
    with GradientTape() as tape:
        y = ops.sum(w * w)
    w.assign([100.0])
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [4.0])
