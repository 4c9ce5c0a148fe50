"""take along axis 0 and its scatter-add gradient on the row kernels (eager, symbolic and in
a compiled Plan, gradients against float64 finite differences), the Plan writing both into
their buffers, and `checked_indices`."""

import doctest

import numpy as np
import pytest

from backend import GradientTape, compiler, ops
from backend.ops import gather_rows
from backend.ops.indexing import _SCATTER_ADD
from backend.tensor import Tensor
from backend.testing import check_op

rng = np.random.default_rng(11)


@pytest.mark.parametrize(
    "table_shape, indices",
    [
        ((6, 3), np.array([[0, 5, 2], [2, 2, 1]])),  # repeated rows accumulate
        ((5,), np.array([4, -1, 0])),  # a 1-D table; negative indices count from the end
        ((4, 2, 3), np.array([3, 0])),  # rows that are matrices
    ],
)
def test_take_rows_forward_and_gradient(table_shape, indices):
    table = rng.standard_normal(table_shape)
    check_op(
        lambda t, i: ops.take(t, i, axis=0),
        [table, indices],
        lambda t, i: np.take(t, i, axis=0),
        grad_inputs=[0],
    )


def test_scatter_add_forward_gradient_and_its_vjp():
    # scatter_add's own vjp is take: differentiating it checks the pair the other way round.
    updates = rng.standard_normal((2, 3, 4))
    indices = np.array([[1, 1, 0], [3, 1, 0]])
    like = np.zeros((5, 4))

    def reference(u, i, like):
        out = np.zeros_like(like)
        np.add.at(out, i, u)
        return out

    check_op(
        lambda u, i, like: ops.apply(_SCATTER_ADD, (u, i, like), {"axis": 0}),
        [updates, indices, like],
        reference,
        grad_inputs=[0],
    )


def test_other_axes_and_dtypes_keep_numpy():
    x = rng.standard_normal((3, 4))
    check_op(lambda t, i: ops.take(t, i, axis=1), [x, np.array([3, 0])],
             lambda t, i: np.take(t, i, axis=1), grad_inputs=[0])  # fmt: skip
    ints = Tensor(np.arange(12, dtype=np.int32).reshape(4, 3))
    assert ops.take(ints, np.array([3, 0]), axis=0).numpy().tolist() == [[9, 10, 11], [0, 1, 2]]


def test_out_of_range_take_is_an_index_error_naming_the_shape():
    with pytest.raises(IndexError, match=r"take: .*index 7 .*\(tensor shape \(4, 2\)\)"):
        ops.take(Tensor(np.ones((4, 2), np.float32)), np.array([1, 7]), axis=0)


def test_plan_writes_the_gather_and_the_gradient_into_their_buffers(monkeypatch):
    table = rng.standard_normal((50, 8)).astype(np.float32)
    indices = rng.integers(0, 50, (4, 6)).astype(np.int32)
    written = []  # (kernel entry point, the output array it was given)
    for name in ("take_rows_into", "scatter_add_rows_into"):
        real = getattr(gather_rows, name)

        def spy(*arrays, real=real, name=name):
            written.append((name, arrays[-1]))
            return real(*arrays)

        monkeypatch.setattr(gather_rows, name, spy)

    def step(t, i):
        with GradientTape() as tape:
            tape.watch(t)
            y = ops.take(t, i, axis=0)
            loss = ops.sum(ops.square(y))
        return y, tape.gradient(loss, t)

    function = compiler.function(step)
    plan = function.plan_for(table, indices)
    assert "take" in plan.describe() and "scatter_add" in plan.describe()
    y, grad = function(table, indices)
    assert [name for name, _ in written] == ["take_rows_into", "scatter_add_rows_into"]
    buffers = [a for a in plan.arrays if isinstance(a, np.ndarray)]
    for _, out in written:  # each wrote into one of the Plan's own buffers
        assert any(np.shares_memory(out, b) for b in buffers)
    np.testing.assert_array_equal(y, table[indices])
    expected = np.zeros_like(table)
    np.add.at(expected, indices.ravel(), 2 * table[indices].reshape(-1, 8))
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_views_as_indices_and_tables_in_a_plan():
    # A transposed view is not C-contiguous: indices are copied, a table falls back to numpy.
    table = rng.standard_normal((6, 5)).astype(np.float32)
    indices = rng.integers(0, 5, (3, 4)).astype(np.int32)

    def step(t, i):
        return ops.take(t, ops.transpose(i), axis=0), ops.take(ops.transpose(t), i, axis=0)

    by_rows, by_columns = compiler.function(step)(table, indices)
    np.testing.assert_array_equal(by_rows, table[indices.T])
    np.testing.assert_array_equal(by_columns, table.T[indices])


def test_checked_indices_converts_whole_numbers_to_int32():
    for x in (np.array([[0.0, 3.0]], np.float32), np.array([[0, 3]]), np.array([[0, 3]], "u1")):
        out = gather_rows.checked_indices(x, 4)
        assert out.dtype == "int32" and out.numpy().tolist() == [[0, 3]]
    symbolic = gather_rows.checked_indices(ops.convert_to_tensor([1]), 2)
    assert symbolic.dtype == "int32"


@pytest.mark.parametrize(
    "x, detail",
    [
        (np.array([[1.0, 7.0, 2.0]]), r"index 7 at position \(0, 1\).*range from 1 to 7"),
        (np.array([3, -2, 1]), r"index -2 at position \(1,\).*range from -2 to 3"),
        (np.array([1.0, 2.5]), r"the non-integral value 2.5 at position \(1,\)"),
        (np.array([np.nan, 1.0]), r"NaN at position \(0,\)"),
    ],
)
def test_checked_indices_errors_name_owner_index_and_bound(x, detail):
    pattern = r"Embedding layer 'emb': indices must be whole numbers in \[0, input_dim\) = \[0, 5\)"
    for run in (
        lambda: gather_rows.checked_indices(x, 5, "Embedding layer 'emb'", "input_dim"),
        lambda: compiler.function(
            lambda v: gather_rows.checked_indices(v, 5, "Embedding layer 'emb'", "input_dim")
        )(x),
    ):
        with pytest.raises(ValueError, match=pattern + ".*" + detail):
            run()


def test_checked_indices_rejects_non_numbers():
    with pytest.raises(TypeError, match="expects integer indices.*dtype=bool"):
        gather_rows.checked_indices(np.array([True]), 3)


def test_doc_examples():
    result = doctest.testmod(gather_rows, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
