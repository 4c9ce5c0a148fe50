"""Shape ops against numpy: forward, gradients (first and second order), symbolic inference."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, gradients, graph, ops
from backend.testing import check_op, numeric_gradient

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


X = rand(2, 3, 4)
XI = np.arange(24, dtype="int32").reshape(2, 3, 4)


def check_double_backward(fn, inputs, index=0):
    """The gradient of `v . d/dx sum(c * fn(x)**2)` (nested tapes) against central
    differences of the eager first gradient."""
    cotangent = RNG.standard_normal(np.shape(fn(*[Tensor(a) for a in inputs])))
    direction = RNG.standard_normal(inputs[index].shape)

    def first_gradient(arrays):
        tensors = [Tensor(np.asarray(a)) for a in arrays]
        with GradientTape() as tape:
            tape.watch(tensors[index])
            loss = ops.sum(ops.multiply(ops.square(fn(*tensors)), cotangent))
        return tape.gradient(loss, tensors[index])

    tensors = [Tensor(a) for a in inputs]
    with GradientTape() as outer:
        outer.watch(tensors[index])
        with GradientTape() as inner:
            inner.watch(tensors[index])
            loss = ops.sum(ops.multiply(ops.square(fn(*tensors)), cotangent))
        grad = inner.gradient(loss, tensors[index])
        projected = ops.sum(ops.multiply(grad, direction))
    second = outer.gradient(projected, tensors[index])
    numeric = numeric_gradient(
        lambda arrays: float(np.sum(first_gradient(arrays).numpy() * direction)),
        list(inputs),
        index,
    )
    np.testing.assert_allclose(second.numpy(), numeric, atol=1e-5, rtol=1e-4)


# ---- reshape, transpose, expand_dims, squeeze ------------------------------------------------


@pytest.mark.parametrize(
    "shape, newshape",
    [((2, 3, 4), (4, -1)), ((2, 3, 4), (24,)), ((6,), (2, 3)), ((2, 3), (3, 1, 2)), ((1,), ())],
)
def test_reshape(shape, newshape):
    x = rand(*shape)
    check_op(lambda x: ops.reshape(x, newshape), [x], lambda x: np.reshape(x, newshape))


def test_reshape_method_and_ravel():
    check_op(lambda x: x.reshape(4, 6), [X], lambda x: x.reshape(4, 6))
    check_op(ops.ravel, [X], np.ravel)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (-1, 0, 1), (2, 1, 0)])
def test_transpose(axes):
    check_op(lambda x: ops.transpose(x, axes), [X], lambda x: np.transpose(x, axes))


def test_transpose_property_swapaxes_moveaxis():
    check_op(lambda x: x.T, [X], lambda x: x.T)
    check_op(lambda x: ops.swapaxes(x, 0, -1), [X], lambda x: np.swapaxes(x, 0, -1))
    check_op(lambda x: ops.moveaxis(x, 0, -1), [X], lambda x: np.moveaxis(x, 0, -1))
    check_op(
        lambda x: ops.moveaxis(x, (0, 1), (-1, 0)), [X], lambda x: np.moveaxis(x, (0, 1), (-1, 0))
    )


@pytest.mark.parametrize("axis", [0, -1, 1, (0, 2), (-1, 0)])
def test_expand_dims(axis):
    check_op(lambda x: ops.expand_dims(x, axis), [X], lambda x: np.expand_dims(x, axis))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
def test_squeeze(axis):
    x = rand(1, 3, 1)
    check_op(lambda x: ops.squeeze(x, axis), [x], lambda x: np.squeeze(x, axis))


def test_broadcast_to():
    x = rand(3, 1)
    check_op(lambda x: ops.broadcast_to(x, (2, 3, 4)), [x], lambda x: np.broadcast_to(x, (2, 3, 4)))


# ---- joining and splitting ----------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes, axis",
    [([(2, 3), (2, 1), (2, 2)], 1), ([(1, 3), (2, 3)], 0), ([(2, 2, 1), (2, 2, 3)], -1)],
)
def test_concatenate(shapes, axis):
    xs = [rand(*s) for s in shapes]
    check_op(
        lambda *xs: ops.concatenate(xs, axis=axis), xs, lambda *xs: np.concatenate(xs, axis=axis)
    )


def test_concatenate_axis_none_and_promotion():
    a, b = rand(2, 2), np.arange(3, dtype="int32")
    out = ops.concatenate([a.astype("float32"), b], axis=None)
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), np.concatenate([a.ravel(), b]), rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(axis):
    a, b, c = rand(2, 3), rand(2, 3), rand(2, 3)
    check_op(lambda *xs: ops.stack(xs, axis=axis), [a, b, c], lambda *xs: np.stack(xs, axis))


@pytest.mark.parametrize("spec, axis", [(3, 1), ([1, 3], -1), ([-3], 2), (2, 0), ([0, 2], 1)])
def test_split(spec, axis):
    check_op(
        lambda x: tuple(ops.split(x, spec, axis=axis)),
        [X],
        lambda x: tuple(np.split(x, spec, axis=axis)),
    )


def test_split_gradient_of_one_piece():
    x = Tensor(X)
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.split(x, 2, axis=-1)[1])
    expected = np.zeros_like(X)
    expected[..., 2:] = 1
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


def test_unstack():
    check_op(lambda x: tuple(ops.unstack(x, axis=1)), [X], lambda x: tuple(np.moveaxis(x, 1, 0)))


# ---- gathering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "indices, axis",
    [
        (np.array([0, -1, 5, 5]), None),
        (np.array([1, 0, 1]), 0),
        (np.array([[2, 0], [-1, 2]]), 1),
        (np.array([3, 3, -4]), -1),
        (np.array(1), 1),
    ],
)
def test_take(indices, axis):
    check_op(lambda x, i: ops.take(x, i, axis=axis), [X, indices], lambda x, i: np.take(x, i, axis))


def test_take_with_list_indices():
    out = ops.take(X, [0, -1], axis=2)
    np.testing.assert_allclose(out.numpy(), X[:, :, [0, -1]])


@pytest.mark.parametrize(
    "x_shape, indices, axis",
    [
        ((2, 3, 4), np.array([[[0], [2]], [[1], [-1]]]), 1),
        ((2, 3, 4), np.array([[[3, 0, 0]]] * 2), -1),
        ((3, 4), np.array([[2, 0, 1, 2]]), 0),
        ((2, 3), np.array([4, 0, -1, 4]), None),
    ],
)
def test_take_along_axis(x_shape, indices, axis):
    x = rand(*x_shape)
    check_op(
        lambda x, i: ops.take_along_axis(x, i, axis=axis),
        [x, indices],
        lambda x, i: np.take_along_axis(x.ravel() if axis is None else x, i, axis=axis or 0),
    )


# ---- getitem ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        1,
        -1,
        slice(1, None),
        slice(None, None, -1),
        (slice(None), slice(3, 0, -2)),
        (Ellipsis, 1),
        (Ellipsis, slice(-3, None, 2)),
        (None, 0),
        (slice(None), None, -1, slice(None, None, -3)),
        (0, 2, 3),
        (1, Ellipsis, None),
        [1, 0, 1],
        np.array([[0, 1], [1, -1]]),
        (slice(None), [-1, 0, 1]),
        (Ellipsis, [3, 0]),
        (0, slice(None), [0, 2]),
        (slice(None), 0, [2, -1]),
        ([1, 0], Ellipsis, 0),
        (0, None, [0, 1]),
        (None, 0, [1, 2]),
        (slice(1, None), [0], slice(None, None, 2)),
    ],
    ids=str,
)
def test_getitem(key):
    check_op(lambda x: x[key], [X], lambda x: x[key])


def test_getitem_with_tensor_indices():
    check_op(lambda x, i: x[:, i], [X, np.array([2, 0])], lambda x, i: x[:, i])
    check_op(lambda x: x[Tensor(np.array(-1))], [X], lambda x: x[-1])
    mask = np.array([True, False, True, True])
    out = ops.getitem(Tensor(X), (Ellipsis, Tensor(mask)))
    np.testing.assert_allclose(out.numpy(), X[..., mask])


@pytest.mark.parametrize(
    "key, error, match",
    [
        (2, IndexError, "getitem.*out of bounds"),
        ((0, -4), IndexError, "getitem.*out of bounds"),
        ((0, 0, 0, 0), IndexError, "getitem: too many indices"),
        ((Ellipsis, 0, Ellipsis), IndexError, "getitem.*Ellipsis"),
        (np.array([0.5]), TypeError, "getitem.*integers"),
        (([0], [1]), ValueError, "getitem.*one integer-array"),
        ("a", TypeError, "getitem"),
        (slice(None, None, 0), ValueError, "getitem.*step"),
    ],
)
def test_getitem_errors(key, error, match):
    with pytest.raises(error, match=match):
        Tensor(X)[key]


def test_flip_uses_getitem():
    for axis in [None, 0, -1, (0, 2)]:
        check_op(lambda x, axis=axis: ops.flip(x, axis), [X], lambda x, a=axis: np.flip(x, a))


# ---- pad, tile, repeat ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pad_width, mode, value",
    [
        (((1, 0), (0, 2), (2, 1)), "constant", None),
        (1, "constant", 2.5),
        ((0, 2), "constant", -1.0),
        (((1, 0), (0, 2), (2, 1)), "reflect", None),
        (((1, 1), (2, 0), (0, 3)), "symmetric", None),
        (((1, 1), (2, 0), (0, 3)), "wrap", None),
        (((1, 2), (0, 1), (3, 0)), "edge", None),
    ],
)
def test_pad(pad_width, mode, value):
    kwargs = {} if value is None else {"constant_values": value}
    check_op(
        lambda x: ops.pad(x, pad_width, mode=mode, **kwargs),
        [X],
        lambda x: np.pad(x, pad_width, mode=mode, **kwargs),
    )


@pytest.mark.parametrize("repeats", [2, (1, 2), (2, 1, 3), (3, 1)])
def test_tile(repeats):
    x = rand(2, 3)
    check_op(lambda x: ops.tile(x, repeats), [x], lambda x: np.tile(x, repeats))


@pytest.mark.parametrize("repeats, axis", [(2, None), (3, 1), (2, -1), ([1, 0, 2], 1), ([2], 0)])
def test_repeat(repeats, axis):
    check_op(
        lambda x: ops.repeat(x, repeats, axis=axis), [X], lambda x: np.repeat(x, repeats, axis)
    )


# ---- stop_gradient ---------------------------------------------------------------------------


def test_stop_gradient():
    check_op(ops.stop_gradient, [X], lambda x: x, grad_inputs=())
    x = Tensor(X)
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.multiply(x, ops.stop_gradient(x)))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), X)
    s = SymbolicTensor((None, 4), "float64")
    grad = gradients([ops.sum(ops.stop_gradient(s) * s)], [s])[0]
    np.testing.assert_allclose(graph.evaluate([grad], {s: X[0]})[0], X[0])


# ---- int tensors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, reference",
    [
        (lambda x: ops.transpose(x, (2, 0, 1)), lambda x: np.transpose(x, (2, 0, 1))),
        (lambda x: ops.reshape(x, (6, -1)), lambda x: x.reshape(6, -1)),
        (lambda x: ops.concatenate([x, x], 1), lambda x: np.concatenate([x, x], 1)),
        (lambda x: x[1, ::-1, [0, 2]], lambda x: x[1, ::-1, [0, 2]]),
        (lambda x: ops.take(x, [1, -1], 2), lambda x: np.take(x, [1, -1], 2)),
        (lambda x: ops.pad(x, 1, constant_values=7), lambda x: np.pad(x, 1, constant_values=7)),
        (lambda x: ops.pad(x, 1, mode="reflect"), lambda x: np.pad(x, 1, mode="reflect")),
        (lambda x: ops.tile(x, (1, 2, 1)), lambda x: np.tile(x, (1, 2, 1))),
        (lambda x: ops.repeat(x, 2, 0), lambda x: np.repeat(x, 2, 0)),
        (lambda x: ops.stack([x, x], 1), lambda x: np.stack([x, x], 1)),
        (lambda x: ops.squeeze(x[:1], 0), lambda x: x[0]),
    ],
)
def test_int_tensors(fn, reference):
    check_op(fn, [XI], reference, grad_inputs=(), expected_dtype="int32")


# ---- symbolic tensors with unknown dims ---------------------------------------------------------


def _evaluate_shape(out, feed):
    return graph.evaluate([out], feed)[0].shape


def test_symbolic_unknown_batch():
    s = SymbolicTensor((None, 4), "float32")
    t = SymbolicTensor((None, 2), "float32")
    feed = {s: np.ones((5, 4), "float32"), t: np.ones((5, 2), "float32")}
    cases = [
        (ops.reshape(s, (-1, 2, 2)), (None, 2, 2), (5, 2, 2)),
        (ops.concatenate([s, t], axis=1), (None, 6), (5, 6)),
        (ops.concatenate([s, s], axis=0), (None, 4), (10, 4)),
        (ops.transpose(s), (4, None), (4, 5)),
        (ops.expand_dims(s, 1), (None, 1, 4), (5, 1, 4)),
        (s[:, 1:3], (None, 2), (5, 2)),
        (s[0], (4,), (4,)),
        (s[::2], (None, 4), (3, 4)),
        (ops.pad(s, ((0, 0), (1, 2))), (None, 7), (5, 7)),
        (ops.pad(s, ((1, 1), (1, 1)), mode="reflect"), (None, 6), (7, 6)),
        (ops.take(s, [0, 0, 3], axis=1), (None, 3), (5, 3)),
        (ops.tile(s, (2, 1)), (None, 4), (10, 4)),
        (ops.repeat(s, 2, axis=1), (None, 8), (5, 8)),
        (ops.stack([s, s], axis=1), (None, 2, 4), (5, 2, 4)),
        (ops.split(s, [1], axis=1)[1], (None, 3), (5, 3)),
        (ops.split(s, [2], axis=0)[1], (None, 4), (3, 4)),
        (ops.flip(s, 0), (None, 4), (5, 4)),
    ]
    for out, inferred, evaluated in cases:
        assert out.shape == inferred
        assert _evaluate_shape(out, feed) == evaluated


def test_symbolic_gradients_with_several_unknown_dims():
    s = SymbolicTensor((None, None, 4), "float64")
    t = SymbolicTensor((None, None, 4), "float64")
    value, other = rand(2, 3, 4), rand(2, 1, 4)
    flat = ops.reshape(s, (-1, 2))
    joined = ops.concatenate([ops.expand_dims(s, 0), ops.expand_dims(t, 0)], axis=2)
    loss = ops.sum(ops.square(flat)) + ops.sum(joined * 3.0) + ops.sum(ops.squeeze(s[:, :1], 1))
    gs, gt = gradients([loss], [s, t])
    assert gs.shape == (None, None, 4)
    values = graph.evaluate([gs, gt], {s: value, t: other})
    expected = 2 * value + 3.0
    expected[:, 0] += 1
    np.testing.assert_allclose(values[0], expected)
    np.testing.assert_allclose(values[1], np.full_like(other, 3.0))


# ---- double backward ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x[1, ::-2, [0, 3]],
        lambda x: ops.take(x, [0, 2, 2], axis=1),
        lambda x: ops.take_along_axis(x, np.array([[[1], [0], [2]]]), axis=-1),
        lambda x: ops.concatenate([x, x[:, :1]], axis=1),
        lambda x: ops.pad(x, ((1, 0), (0, 0), (0, 2))),
        lambda x: ops.transpose(ops.reshape(x, (4, 6))),
        lambda x: ops.split(x, [1], axis=-1)[1],
        lambda x: ops.tile(ops.squeeze(ops.expand_dims(x, 0), 0), (1, 2, 1)),
    ],
)
def test_double_backward(fn):
    check_double_backward(fn, [X])


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ops.reshape(X, (5, -1)), ValueError, "reshape"),
        (lambda: ops.reshape(X, (-1, -1)), ValueError, "reshape"),
        (lambda: ops.transpose(X, (0, 1)), ValueError, "transpose"),
        (lambda: ops.transpose(X, (0, 1, 1)), ValueError, "transpose"),
        (lambda: ops.expand_dims(X, 4), ValueError, "expand_dims"),
        (lambda: ops.squeeze(X, 1), ValueError, "squeeze"),
        (lambda: ops.concatenate([X, rand(2, 4, 4)], 2), ValueError, "concatenate"),
        (lambda: ops.concatenate([X, rand(2, 3)], 0), ValueError, "concatenate"),
        (lambda: ops.concatenate([np.float64(1.0)]), ValueError, "concatenate"),
        (lambda: ops.concatenate([]), ValueError, "concatenate"),
        (lambda: ops.split(X, 5, axis=1), ValueError, "split"),
        (lambda: ops.take(X, np.array([0.0])), TypeError, "take"),
        (lambda: ops.take(X, [0], axis=3), ValueError, "take"),
        (lambda: ops.take(X, [24]), IndexError, "take.*out of bounds"),
        (lambda: ops.take_along_axis(X, np.full((1, 1, 1), 4), 2), IndexError, "take_along"),
        (lambda: ops.take_along_axis(X, np.zeros((2, 3), "int32"), 1), ValueError, "take_along"),
        (lambda: ops.take_along_axis(X, np.zeros((2, 2), "int32")), ValueError, "take_along"),
        (lambda: ops.pad(X, 1, mode="median"), ValueError, "pad"),
        (lambda: ops.pad(X, -1), ValueError, "pad"),
        (lambda: ops.pad(X, ((1, 1), (1, 1))), ValueError, "pad"),
        (lambda: ops.pad(X, 3, mode="reflect"), ValueError, "pad"),
        (lambda: ops.pad(X, 1, mode="reflect", constant_values=0), ValueError, "pad"),
        (lambda: ops.tile(X, (-1,)), ValueError, "tile"),
        (lambda: ops.repeat(X, [1, 2], axis=1), ValueError, "repeat"),
        (lambda: ops.broadcast_to(X, (3, 3, 4)), ValueError, "broadcast_to"),
        (lambda: ops.flip(X, 3), ValueError, "flip"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_symbolic_errors():
    s = SymbolicTensor((None, None, 4), "float32")
    with pytest.raises(ValueError, match="reshape"):
        ops.reshape(s, (2, -1, -1))
    with pytest.raises(ValueError, match="tile.*one unknown dim"):
        ops.tile(s, (2, 2, 1))
    with pytest.raises(ValueError, match="split"):
        ops.split(s, 2, axis=0)
    with pytest.raises(TypeError, match="getitem"):
        s[: SymbolicTensor((), "int32")]
