"""NN ops: softmax, log_softmax, one_hot, moments and the crossentropies, against numpy
references (forward, gradients, symbolic), at extreme logits, and for bad inputs."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, config, graph, ops
from backend.testing import check_op

rng = np.random.default_rng(11)
EPS = config.epsilon()


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _bce_logits(t, x):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def _bce_probs(t, o):
    o = np.clip(o, EPS, 1 - EPS)
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def _cce_probs(t, o, axis=-1):
    o = np.clip(o / np.sum(o, axis=axis, keepdims=True), EPS, 1 - EPS)
    return -np.sum(t * np.log(o), axis=axis)


def _one_hot(labels, classes, axis=-1):
    return np.moveaxis(np.eye(classes)[labels], -1, axis)


def _soft_targets(shape, axis=-1):
    return _softmax(rng.standard_normal(shape), axis)


# ---- softmax and log_softmax -------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1, (0, 2), (-1, 1)])
@pytest.mark.parametrize("op,reference", [(ops.softmax, _softmax), (ops.log_softmax, _log_softmax)])
def test_softmax_family(op, reference, axis):
    check_op(
        lambda x: op(x, axis=axis),
        [rng.standard_normal((2, 3, 4))],
        lambda x: reference(x, axis=axis),
    )


def test_softmax_is_stable_and_ints_give_floatx():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e9, -1e9, -1e9]])
    np.testing.assert_allclose(ops.softmax(x).numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    log = ops.log_softmax(x).numpy()
    np.testing.assert_allclose(log[0], [0.0, -1000.0, -2000.0])
    assert np.isfinite(log).all()
    assert ops.softmax(np.array([1, 2], np.int32)).dtype == "float32"
    with pytest.raises(ValueError, match="softmax"):
        ops.softmax(np.ones((2, 3)), axis=2)


def test_softmax_gradient_at_large_logits_is_finite():
    t = Tensor(np.array([[100.0, -100.0, 0.0]]))
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.log_softmax(t) * np.eye(3)[1])
    g = tape.gradient(y, t).numpy()
    np.testing.assert_allclose(g, [[-1.0, 1.0, 0.0]], atol=1e-12)


# ---- one_hot ---------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    labels = np.array([[0, 3, 1], [2, -1, 4]], dtype=np.int32)  # -1 and 4 are out of range

    def reference(x):
        valid = (x >= 0) & (x < 4)
        return _one_hot(np.where(valid, x, 0), 4, axis) * np.expand_dims(valid, axis)

    check_op(
        lambda x: ops.one_hot(x, 4, axis=axis),
        [labels],
        lambda x: reference(x).astype(np.float32),
        grad_inputs=(),
        expected_dtype="float32",
    )


def test_one_hot_dtype_and_errors():
    assert ops.one_hot([1, 0], 2, dtype="int32").numpy().tolist() == [[0, 1], [1, 0]]
    assert ops.one_hot(SymbolicTensor((None,), "int32"), 5).shape == (None, 5)
    with pytest.raises(ValueError, match="one_hot"):
        ops.one_hot([1], 0)
    with pytest.raises(ValueError, match="one_hot"):
        ops.one_hot([1], 3, axis=2)


# ---- moments -----------------------------------------------------------------------------------


@pytest.mark.parametrize("axes,keepdims", [((0,), False), ((0, 1), True), ([-1], False), (1, True)])
def test_moments(axes, keepdims):
    np_axes = axes if isinstance(axes, int) else tuple(axes)
    check_op(
        lambda x: ops.moments(x, axes, keepdims=keepdims),
        [rng.standard_normal((3, 2, 4))],
        lambda x: (
            np.mean(x, axis=np_axes, keepdims=keepdims),
            np.var(x, axis=np_axes, keepdims=keepdims),
        ),
    )


def test_moments_float16_and_synchronized():
    x = np.full((4, 2), 300.0, np.float16) + np.arange(4, dtype=np.float16)[:, None]
    mean, variance = ops.moments(x, axes=(0,), synchronized=True)
    assert mean.dtype == variance.dtype == "float16"
    np.testing.assert_allclose(mean.numpy(), [301.5, 301.5])
    np.testing.assert_allclose(variance.numpy(), [1.25, 1.25])


# ---- binary crossentropy -------------------------------------------------------------------


def test_binary_crossentropy_from_logits():
    target = rng.uniform(0, 1, (3, 4))
    logits = rng.standard_normal((3, 4)) * 3
    check_op(
        lambda t, x: ops.binary_crossentropy(t, x, from_logits=True),
        [target, logits],
        _bce_logits,
    )


def test_binary_crossentropy_from_probabilities():
    target = rng.uniform(0, 1, (3, 4))
    probs = rng.uniform(0.05, 0.95, (3, 4))
    check_op(lambda t, o: ops.binary_crossentropy(t, o), [target, probs], _bce_probs)
    # Probabilities at 0 and 1 are clipped: the result is finite.
    out = ops.binary_crossentropy(np.array([1.0, 0.0]), np.array([0.0, 1.0])).numpy()
    np.testing.assert_allclose(out, [-np.log(EPS)] * 2, rtol=1e-6)


def test_binary_crossentropy_extreme_logits():
    target = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
    logits = np.array([100.0, 100.0, -100.0, -100.0, 100.0])
    t, x = Tensor(target), Tensor(logits)
    with GradientTape() as tape:
        tape.watch([t, x])
        loss = ops.binary_crossentropy(t, x, from_logits=True)
    gt, gx = tape.gradient(loss, [t, x])
    np.testing.assert_allclose(loss.numpy(), [0.0, 100.0, 100.0, 0.0, 50.0], atol=1e-12)
    np.testing.assert_allclose(gx.numpy(), _sigmoid(logits) - target, atol=1e-12)
    np.testing.assert_allclose(gt.numpy(), -logits)
    check_op(
        lambda t, x: ops.binary_crossentropy(t, x, from_logits=True), [target, logits], _bce_logits
    )


def test_binary_logits_match_probabilities():
    target = rng.uniform(0, 1, (2, 5))
    logits = rng.uniform(-4, 4, (2, 5))
    from_logits = ops.binary_crossentropy(target, logits, from_logits=True)
    from_probs = ops.binary_crossentropy(target, ops.sigmoid(logits))
    np.testing.assert_allclose(from_logits.numpy(), from_probs.numpy(), rtol=1e-9)


# ---- categorical crossentropy ----------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_categorical_crossentropy_from_logits(axis):
    target = _soft_targets((2, 3, 4), axis)
    logits = rng.standard_normal((2, 3, 4)) * 2
    check_op(
        lambda t, x: ops.categorical_crossentropy(t, x, from_logits=True, axis=axis),
        [target, logits],
        lambda t, x: -np.sum(t * _log_softmax(x, axis), axis=axis),
    )


@pytest.mark.parametrize("axis", [-1, 0])
def test_categorical_crossentropy_from_probabilities(axis):
    target = _soft_targets((3, 4), axis)
    probs = rng.uniform(0.1, 1.0, (3, 4))  # unnormalized: Keras normalizes them
    check_op(
        lambda t, o: ops.categorical_crossentropy(t, o, axis=axis),
        [target, probs],
        lambda t, o: _cce_probs(t, o, axis),
    )


def test_categorical_crossentropy_extreme_logits():
    target = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    logits = np.array([[-100.0, 100.0, 0.0], [100.0, -100.0, 100.0]])
    t, x = Tensor(target), Tensor(logits)
    with GradientTape() as tape:
        tape.watch([t, x])
        loss = ops.categorical_crossentropy(t, x, from_logits=True)
    gt, gx = tape.gradient(loss, [t, x])
    np.testing.assert_allclose(loss.numpy(), [200.0, 100.0 + np.log(2)], rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), _softmax(logits) - target, atol=1e-12)
    np.testing.assert_allclose(gt.numpy(), -_log_softmax(logits))
    assert np.isfinite(gx.numpy()).all() and np.isfinite(gt.numpy()).all()


def test_categorical_logits_match_probabilities():
    target = _soft_targets((3, 5))
    logits = rng.uniform(-3, 3, (3, 5))
    from_logits = ops.categorical_crossentropy(target, logits, from_logits=True)
    from_probs = ops.categorical_crossentropy(target, ops.softmax(logits))
    np.testing.assert_allclose(from_logits.numpy(), from_probs.numpy(), rtol=1e-9)


# ---- sparse categorical crossentropy ---------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparse_categorical_crossentropy_from_logits(axis):
    logits = rng.standard_normal((3, 4)) * 2
    labels = np.array([2, 0, 1, 2] if axis == 0 else [3, 0, 1], dtype=np.int32)

    def reference(t, x):
        return -np.sum(_one_hot(t, x.shape[axis], axis) * _log_softmax(x, axis), axis=axis)

    check_op(
        lambda t, x: ops.sparse_categorical_crossentropy(t, x, from_logits=True, axis=axis),
        [labels, logits],
        reference,
    )


def test_sparse_categorical_crossentropy_from_probabilities():
    probs = rng.uniform(0.1, 1.0, (2, 3, 4))
    labels = np.array([[3, 0, 1], [2, 2, 0]], dtype=np.int64)
    check_op(
        lambda t, o: ops.sparse_categorical_crossentropy(t, o),
        [labels, probs],
        lambda t, o: _cce_probs(_one_hot(t, 4), o),
    )


def test_sparse_categorical_crossentropy_labels_with_trailing_dim_and_floats():
    logits = rng.standard_normal((3, 4))
    labels = np.array([1, 3, 0])
    expected = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
    for target in (labels[:, None], labels.astype(np.float64)):
        for from_logits in (True, False):
            output = logits if from_logits else _softmax(logits)
            got = ops.sparse_categorical_crossentropy(target, output, from_logits=from_logits)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-7)
    symbolic = ops.sparse_categorical_crossentropy(
        SymbolicTensor((None, 1), "int32"), SymbolicTensor((None, 4)), from_logits=True
    )
    assert symbolic.shape == (None,)


def test_sparse_categorical_crossentropy_narrow_integer_labels_compiled_and_eager():
    from backend import compiler

    logits = rng.standard_normal((5, 4)).astype(np.float32)
    labels = np.array([1, 3, 0, 2, 3])
    expected = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
    step = compiler.function(
        lambda y, z: ops.sparse_categorical_crossentropy(y, z, from_logits=True)
    )
    for dtype in (np.uint8, np.int8, np.int16, np.uint16):
        np.testing.assert_allclose(step(labels.astype(dtype), logits), expected, rtol=1e-6)
        eager = ops.sparse_categorical_crossentropy(labels.astype(dtype), logits, from_logits=True)
        np.testing.assert_allclose(eager.numpy(), expected, rtol=1e-6)


def test_sparse_categorical_crossentropy_extreme_logits():
    logits = np.array([[100.0, -100.0, 0.0], [-100.0, -100.0, 100.0]])
    labels = np.array([1, 2], dtype=np.int32)
    x = Tensor(logits)
    with GradientTape() as tape:
        tape.watch(x)
        loss = ops.sparse_categorical_crossentropy(labels, x, from_logits=True)
    np.testing.assert_allclose(loss.numpy(), [200.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        tape.gradient(loss, x).numpy(), _softmax(logits) - np.eye(3)[labels], atol=1e-12
    )


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_out_of_range_labels_raise(from_logits):
    logits = np.zeros((2, 3))
    for labels in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="sparse_categorical_crossentropy: labels"):
            ops.sparse_categorical_crossentropy(labels, logits, from_logits=from_logits)


def test_sparse_out_of_range_labels_raise_when_a_graph_runs():
    labels, logits = SymbolicTensor((None,), "int32"), SymbolicTensor((None, 3), "float64")
    loss = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    feed = {labels: np.array([0, 5], np.int32), logits: np.zeros((2, 3))}
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: labels"):
        graph.evaluate([loss], feed)


# ---- shape and dtype errors --------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [True, False])
def test_crossentropy_shape_mismatch_names_op_and_shapes(from_logits):
    cases = [
        (ops.binary_crossentropy, np.zeros((2, 3)), np.zeros((2, 4))),
        (ops.binary_crossentropy, np.zeros((2, 3)), np.zeros((2, 3, 1))),
        (ops.categorical_crossentropy, np.zeros((2, 3)), np.zeros((3, 3))),
        (ops.sparse_categorical_crossentropy, np.zeros((3,), np.int32), np.zeros((2, 3))),
        (ops.sparse_categorical_crossentropy, np.zeros((2, 2), np.int32), np.zeros((2, 3))),
    ]
    for op, target, output in cases:
        with pytest.raises(ValueError, match=op.__name__) as info:
            op(target, output, from_logits=from_logits)
        assert str(target.shape) in str(info.value) and str(output.shape) in str(info.value)


def test_crossentropy_symbolic_shapes_and_scalar_errors():
    t, x = SymbolicTensor((None, 5)), SymbolicTensor((None, 5))
    assert ops.categorical_crossentropy(t, x, from_logits=True).shape == (None,)
    assert ops.binary_crossentropy(t, x, from_logits=True).shape == (None, 5)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        ops.categorical_crossentropy(SymbolicTensor(()), SymbolicTensor(()))
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        ops.categorical_crossentropy(t, x, axis=(0, 1))


def test_fused_primitives_check_dtypes():
    from backend.ops import apply
    from backend.ops.nn import _SIGMOID_CROSSENTROPY, _SPARSE_SOFTMAX_CROSSENTROPY

    with pytest.raises(TypeError, match="binary_crossentropy"):
        apply(_SIGMOID_CROSSENTROPY, (Tensor(np.zeros(2, np.float32)), Tensor(np.zeros(2))))
    with pytest.raises(TypeError, match="sparse_categorical_crossentropy"):
        apply(
            _SPARSE_SOFTMAX_CROSSENTROPY,
            (Tensor(np.zeros(2)), Tensor(np.zeros((2, 3)))),
            {"axis": 1},
        )


# ---- double backward ---------------------------------------------------------------------------


def _first_gradient(loss_fn, wrt: int):
    """A function returning d loss / d input `wrt`, recorded so it can be differentiated."""

    def grad(*tensors):
        with GradientTape() as tape:
            tape.watch(tensors[wrt])
            loss = loss_fn(*tensors)
        return tape.gradient(loss, tensors[wrt])

    return grad


@pytest.mark.parametrize(
    "loss_fn,target,reference",
    [
        (
            lambda t, x: ops.categorical_crossentropy(t, x, from_logits=True),
            _soft_targets((2, 3)),
            lambda t, x: _softmax(x) * np.sum(t, -1, keepdims=True) - t,
        ),
        (
            lambda t, x: ops.binary_crossentropy(t, x, from_logits=True),
            rng.uniform(0, 1, (2, 3)),
            lambda t, x: _sigmoid(x) - t,
        ),
        (
            lambda t, x: ops.sparse_categorical_crossentropy(t, x, from_logits=True),
            np.array([2, 0], dtype=np.int32),
            lambda t, x: _softmax(x) - np.eye(3)[t],
        ),
    ],
)
def test_crossentropy_gradients_are_differentiable(loss_fn, target, reference):
    # check_op on the logits gradient compares the second derivatives with differences.
    check_op(
        _first_gradient(loss_fn, 1),
        [target, rng.standard_normal((2, 3))],
        reference,
        symbolic=False,
    )
