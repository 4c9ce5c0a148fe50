"""Tensor, Variable and SymbolicTensor behaviour."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, Variable, compiler, ops, symbolic_scope


def test_tensor_basics():
    t = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and isinstance(t.shape, tuple)
    assert t.dtype == "float32" and t.ndim == 2 and len(t) == 2
    arr = np.asarray(t)
    assert arr.dtype == np.float32
    copy = t.numpy()
    copy[0, 0] = 99
    assert t.numpy()[0, 0] == 1.0
    assert float(t[1, 1]) == 4.0
    assert [float(r[0]) for r in t] == [1.0, 3.0]
    assert "Tensor" in repr(t)


def test_operators_match_numpy():
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    t = ops.convert_to_tensor(a)
    np.testing.assert_allclose((t + 1).numpy(), a + 1)
    np.testing.assert_allclose((2 - t).numpy(), 2 - a)
    np.testing.assert_allclose((t * t).numpy(), a * a)
    np.testing.assert_allclose((1 / t).numpy(), 1 / a)
    np.testing.assert_allclose((t**2).numpy(), a**2)
    np.testing.assert_allclose((-t).numpy(), -a)
    np.testing.assert_array_equal((t > 3).numpy(), a > 3)
    np.testing.assert_array_equal((t == 2).numpy(), a == 2)
    np.testing.assert_allclose((t // 2).numpy(), a // 2)
    np.testing.assert_allclose((t % 2).numpy(), a % 2)


@pytest.mark.parametrize(
    "expr",
    [
        lambda arr, t: arr + t,
        lambda arr, t: arr - t,
        lambda arr, t: arr * t,
        lambda arr, t: arr / t,
        lambda arr, t: arr**t,
    ],
)
def test_numpy_array_on_the_left_keeps_the_gradient(expr):
    arr = np.array([1.0, 2.0, 3.0])
    t = Tensor(np.array([0.5, 1.5, 2.5]))
    with GradientTape() as tape:
        tape.watch(t)
        y = expr(arr, t)
        assert isinstance(y, Tensor), "numpy must defer to the Tensor operator"
        loss = ops.sum(y)
    g = tape.gradient(loss, t)
    assert g is not None
    eps = 1e-6
    numeric = np.array(
        [
            (np.sum(expr(arr, t.numpy() + eps * e)) - np.sum(expr(arr, t.numpy() - eps * e)))
            / (2 * eps)
            for e in np.eye(3)
        ]
    )
    np.testing.assert_allclose(g.numpy(), numeric, rtol=1e-5)


def test_numpy_matmul_on_the_left_keeps_the_gradient():
    w = Variable(np.ones((3, 2)))
    x = np.ones((4, 3))
    with GradientTape() as tape:
        y = ops.sum(x @ w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), np.full((3, 2), 4.0))


def test_variable_api():
    v = Variable(np.zeros((2, 3)), name="kernel")
    assert v.shape == (2, 3) and v.dtype == "float32"
    assert v.name == "kernel" and v.path == "kernel" and v.trainable
    v.assign(np.ones((2, 3)))
    v.assign_add(np.ones((2, 3)))
    v.assign_sub(np.full((2, 3), 0.5))
    np.testing.assert_allclose(v.numpy(), np.full((2, 3), 1.5))
    assert isinstance(v.value, Tensor)
    np.testing.assert_allclose(np.asarray(v), v.numpy())
    np.testing.assert_allclose((v * 2).numpy(), np.full((2, 3), 3.0))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(3,\)"):
        v.assign(np.ones(3))


def test_variable_from_initializer_and_dtypes():
    v = Variable(lambda shape, dtype: np.full(shape, 2.0, dtype), shape=(2,), dtype="float64")
    assert v.dtype == "float64"
    np.testing.assert_allclose(v.numpy(), [2.0, 2.0])
    # As Keras: the dtype is floatx unless given, whatever the initial value's dtype.
    assert Variable([1, 2]).dtype == "float32"
    assert Variable(np.arange(3, dtype=np.float64)).dtype == "float32"
    assert Variable(np.arange(3), dtype="int64").dtype == "int64"
    assert Variable("zeros", shape=(3,)).numpy().tolist() == [0.0, 0.0, 0.0]
    assert Variable(1.0, trainable=False).trainable is False
    with pytest.raises(ValueError, match="shape"):
        Variable(lambda shape, dtype: np.zeros(shape), shape=None)
    with pytest.raises(ValueError, match="initializer"):
        Variable("no_such_init", shape=(2,))
    with pytest.raises(ValueError, match="name"):
        Variable(1.0, name="a/b")


def test_assign_does_not_change_an_earlier_read():
    v = Variable(np.array([1.0, 2.0]))
    read = v.value
    v.assign([5.0, 5.0])
    np.testing.assert_allclose(read.numpy(), [1.0, 2.0])


def test_symbolic_tensor_refuses_value_control_flow():
    x = SymbolicTensor((None, 4), "float32")
    y = x * 2
    assert isinstance(y, SymbolicTensor) and y.shape == (None, 4)
    with pytest.raises(TypeError, match="run_eagerly"):
        if y > 0:
            pass
    with pytest.raises(TypeError, match="no value"):
        y.numpy()
    if x.shape[1] == 4:  # control flow on shapes works
        z = ops.reshape(x, (-1, 2, 2))
    assert z.shape == (None, 2, 2)


def test_symbolic_scope_records_ops_on_variables():
    v = Variable(np.ones(3))
    with symbolic_scope():
        y = v * 2.0
    assert isinstance(y, SymbolicTensor)
    from backend import graph

    np.testing.assert_allclose(graph.evaluate([y], {})[0], [2.0, 2.0, 2.0])
    v.assign([3.0, 3.0, 3.0])  # the graph reads the Variable when it runs
    np.testing.assert_allclose(graph.evaluate([y], {})[0], [6.0, 6.0, 6.0])


def test_numpy_functions_on_eager_tensors_return_numpy_results_without_gradients():
    t = ops.convert_to_tensor(np.array([1.0, 2.0], np.float32))
    v = Variable(np.array([3.0, 4.0], np.float32))
    for value in (t, v):
        out = np.exp(value)
        assert type(out) is np.ndarray
        np.testing.assert_allclose(out, np.exp(np.asarray(value)), rtol=1e-6)
        assert type(np.mean(value)) is np.float32
    assert np.asarray(t) is t._value  # no copy
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.convert_to_tensor(np.exp(t)) * 1.0)
    assert tape.gradient(y, t) is None  # numpy's result is outside the tape


def test_numpy_operators_on_the_left_still_defer_to_the_tensor():
    t = ops.convert_to_tensor(np.array([1.0, 2.0], np.float32))
    a = np.array([2.0, 3.0], np.float32)
    for result in (a + t, a - t, a * t, a / t, a**t, a @ t, a < t, a == t):
        assert isinstance(result, Tensor)
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(a * t)
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), a)


def test_numpy_functions_on_symbolic_tensors_point_to_kerasish_ops():
    with pytest.raises(TypeError, match=r"kerasish\.ops"):
        np.exp(SymbolicTensor((None, 2)))
    step = compiler.function(lambda x: np.exp(x))
    with pytest.raises(TypeError, match=r"kerasish\.ops"):
        step(np.ones(2, np.float32))


def test_a_variable_holds_its_value_in_c_order():
    # An orthogonal initializer returns a transposed array: kept as it was, every kernel
    # that reads the Variable (a recurrent kernel) copied it into C order at each use.
    from kerasish import initializers

    fortran = np.arange(12.0, dtype=np.float32).reshape(3, 4).T
    v = Variable(fortran)
    assert v._value.flags.c_contiguous and v._value.tolist() == fortran.tolist()
    v.assign(fortran * 2)
    assert v._value.flags.c_contiguous and v._value.tolist() == (fortran * 2).tolist()
    w = Variable(initializers.Orthogonal(seed=1), shape=(16, 48))
    assert w._value.flags.c_contiguous
