"""Gathered projections (`backend/compiler/patterns_gather.py`): in inference,
`take(table, ids) @ W + b` gathering more rows than the table has runs as the projected table
gathered; the numbers are those of the unfused ops, and it never fires in training or when
the batch gathers fewer rows than the table has."""

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, ops

rng = np.random.default_rng(0)


def _layer(vocab=10, width=4, units=6, dtype="float32"):
    table = Variable(rng.standard_normal((vocab, width)), dtype=dtype)
    kernel = Variable(rng.standard_normal((width, units)), dtype=dtype)
    bias = Variable(rng.standard_normal(units), dtype=dtype)
    return table, kernel, bias


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_projects_the_table_then_gathers_when_more_rows_are_gathered(with_bias, dtype):
    table, kernel, bias = _layer(dtype=dtype)

    def fn(ids):
        y = ops.matmul(ops.take(table, ids, axis=0), kernel)
        return ops.tanh(y + bias) if with_bias else ops.tanh(y)

    ids = rng.integers(0, 10, size=(3, 7)).astype(np.int32)  # 21 rows from a 10-row table
    f = compiler.function(fn)
    names = f.plan_for(ids).describe()
    assert names[0] == ("matmul(table)+bias+take" if with_bias else "matmul(table)+take")
    assert "take" not in names and "matmul" not in names
    expected = fn(ids).numpy()
    for _ in range(2):  # the second run reuses the projected table
        np.testing.assert_allclose(f(ids), expected, rtol=1e-6 if dtype == "float32" else 1e-12)
    table.assign(table.numpy() * 2.0)  # a changed table: the next run projects the new one
    np.testing.assert_allclose(f(ids), fn(ids).numpy(), rtol=1e-6)


def test_not_when_fewer_rows_are_gathered_than_the_table_has():
    table, kernel, bias = _layer(vocab=50)
    f = compiler.function(lambda ids: ops.matmul(ops.take(table, ids, axis=0), kernel) + bias)
    ids = rng.integers(0, 50, size=(3, 7))
    assert f.plan_for(ids).describe()[:2] == ["take", "matmul"]


def test_not_in_training_where_the_gathered_rows_are_read_again():
    table, kernel, bias = _layer()

    def step(ids):
        with GradientTape() as tape:
            loss = ops.sum(ops.square(ops.matmul(ops.take(table, ids, axis=0), kernel) + bias))
        grads = tape.gradient(loss, [table, kernel, bias])
        for v, g in zip([table, kernel, bias], grads, strict=True):
            v.assign_sub(0.01 * g)
        return loss

    ids = rng.integers(0, 10, size=(3, 7))
    names = compiler.function(step).plan_for(ids).describe()
    assert not any("take" in name and "matmul" in name for name in names)
    assert "take" in names


def _projection_of(f, ids):
    """The `_Projection` the compiled step's fused gather keeps (one per shape)."""
    step = f.plan_for(ids).steps[0]
    cells = [c.cell_contents for c in step.run.__closure__ or ()]
    (projected,) = [c for c in cells if isinstance(c, dict)]
    (projection,) = projected.values()
    return projection


@pytest.mark.parametrize("changed", ["table", "kernel", "bias"])
@pytest.mark.parametrize("how", ["assign", "in_place"])
def test_the_kept_projection_is_made_again_when_any_weight_changes(changed, how):
    """The projected table is reused while the table, W and b keep their bits, and made
    again after any of them changes: by `assign` (a new array), or written in place as an
    optimizer's flat buffer does (the same array, which only a comparison can see)."""
    table, kernel, bias = _layer()
    weights = {"table": table, "kernel": kernel, "bias": bias}

    def fn(ids):
        return ops.matmul(ops.take(table, ids, axis=0), kernel) + bias

    ids = rng.integers(0, 10, size=(3, 7)).astype(np.int32)
    f = compiler.function(fn)
    first = np.array(f(ids))
    projection = _projection_of(f, ids)
    rows = projection.rows
    kept = [np.array(k) for k in projection.sources]
    np.testing.assert_array_equal(f(ids), first)
    assert projection.rows is rows
    rows[...] = 7.0  # not made again while the weights keep their bits: the run reads this
    np.testing.assert_array_equal(f(ids), np.full_like(first, 7.0))  # (b is in the rows)
    variable = weights[changed]
    if how == "assign":
        variable.assign(variable.numpy() + 1.0)
    else:
        variable._value[...] += 1.0  # in place, as the fused optimizer update writes
    np.testing.assert_allclose(f(ids), fn(ids).numpy(), rtol=1e-6)
    assert not np.allclose(f(ids), first)
    index = ["table", "kernel", "bias"].index(changed)
    np.testing.assert_array_equal(projection.sources[index], variable.numpy())
    assert not np.array_equal(projection.sources[index], kept[index])


def test_a_sign_of_zero_in_the_table_counts_as_a_change():
    """-0.0 and 0.0 compare equal as numbers but may project differently: bits decide."""
    table, kernel, bias = _layer()
    table.assign(np.where(np.arange(40).reshape(10, 4) % 3 == 0, 0.0, table.numpy()))
    f = compiler.function(lambda ids: ops.matmul(ops.take(table, ids, axis=0), kernel))
    ids = rng.integers(0, 10, size=(3, 7)).astype(np.int32)
    f(ids)
    projection = _projection_of(f, ids)
    table._value[...] = np.where(table._value == 0, np.float32(-0.0), table._value)
    f(ids)
    np.testing.assert_array_equal(np.signbit(projection.sources[0]), np.signbit(table.numpy()))
