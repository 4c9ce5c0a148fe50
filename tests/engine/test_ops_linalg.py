"""matmul, dot and einsum against numpy: forward, gradients, symbolic inference, errors."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, gradients, graph, ops
from backend.testing import check_op

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize(
    "s1, s2",
    [
        ((3, 4), (4, 2)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((2, 3, 4), (2, 4, 2)),
        ((1, 2, 3), (3, 3, 2)),
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((4,), (2, 4, 3)),
        ((2, 2, 4), (4,)),
        ((2, 3, 4), (4, 2)),
        ((2, 3, 4), (1, 4, 2)),
        ((2, 3, 2, 4), (4, 5)),
    ],
    ids=str,
)
def test_matmul(s1, s2):
    check_op(ops.matmul, [rand(*s1), rand(*s2)], np.matmul)


def test_matmul_operator():
    a, b = rand(2, 3), rand(3, 2)
    check_op(lambda a, b: a @ b, [a, b], np.matmul)
    np.testing.assert_allclose((a @ Tensor(b)).numpy(), a @ b)


@pytest.mark.parametrize(
    "d1, d2, expected",
    [
        ("int32", "int32", "int32"),
        ("int8", "int8", "int32"),
        ("int32", "float32", "float32"),
        ("float32", "float64", "float64"),
        ("int64", "int32", "int64"),
    ],
)
def test_matmul_dtypes(d1, d2, expected):
    a = np.arange(6).reshape(2, 3).astype(d1)
    b = np.arange(6).reshape(3, 2).astype(d2)
    check_op(ops.matmul, [a, b], lambda a, b: np.matmul(a, b).astype(expected),
             grad_inputs=(), float32=False, expected_dtype=expected)  # fmt: skip


def test_matmul_symbolic_unknown_batch():
    s = SymbolicTensor((None, 3), "float32")
    w = Tensor(rand(3, 2).astype("float32"))
    out = ops.matmul(s, w)
    assert out.shape == (None, 2)
    value = rand(5, 3).astype("float32")
    np.testing.assert_allclose(graph.evaluate([out], {s: value})[0], value @ w.numpy(), rtol=1e-5)
    grad = gradients([ops.sum(out)], [s])[0]
    assert grad.shape == (None, 3)
    assert ops.matmul(SymbolicTensor((None, 1, 3, 4)), SymbolicTensor((7, None, 2))).shape == (
        None, 7, 3, 2,
    )  # fmt: skip
    assert ops.matmul(SymbolicTensor((None,)), SymbolicTensor((None, None, 2))).shape == (None, 2)


def test_matmul_double_backward():
    # y = sum((x @ w) ** 2); g = dy/dx = 2 (x w) w^T; z = sum(g * c); dz/dx = 2 c w w^T.
    x, w, c = rand(3, 4), rand(4, 2), rand(3, 4)
    xt, wt = Tensor(x), Tensor(w)
    with GradientTape(persistent=True) as outer:
        outer.watch([xt, wt])
        with GradientTape() as inner:
            inner.watch(xt)
            y = ops.sum(ops.square(ops.matmul(xt, wt)))
        g = inner.gradient(y, xt)
        z = ops.sum(ops.multiply(g, c))
    np.testing.assert_allclose(g.numpy(), 2 * (x @ w) @ w.T)
    dx, dw = outer.gradient(z, [xt, wt])
    np.testing.assert_allclose(dx.numpy(), 2 * c @ w @ w.T)
    # z = 2 sum(c * (x w w^T)) -> dz/dw = 2 (x^T c + c^T x) w.
    np.testing.assert_allclose(dw.numpy(), 2 * (x.T @ c + c.T @ x) @ w)


@pytest.mark.parametrize(
    "s1, s2, match",
    [
        ((2, 3), (4, 5), r"matmul.*x1.shape=\(2, 3\), x2.shape=\(4, 5\)"),
        ((3,), (4,), r"matmul.*\(3,\).*\(4,\)"),
        ((2, 3, 4), (5, 4, 2), r"matmul.*batch.*\(2, 3, 4\).*\(5, 4, 2\)"),
        ((), (3,), "matmul.*rank"),
    ],
)
def test_matmul_errors(s1, s2, match):
    with pytest.raises(ValueError, match=match):
        ops.matmul(np.ones(s1), np.ones(s2))


def test_matmul_symbolic_error():
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(SymbolicTensor((None, 3)), SymbolicTensor((4, None)))


@pytest.mark.parametrize(
    "s1, s2",
    [
        ((), (2, 3)),
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3, 4)),
        ((2, 2, 3), (3,)),
        ((3,), (2, 3, 4)),
        ((2, 2, 3), (3, 2)),
        ((2, 3), (2, 3, 2)),
        ((2, 1, 3), (2, 3, 2)),
    ],
    ids=str,
)
def test_dot(s1, s2):
    check_op(ops.dot, [rand(*s1), rand(*s2)], np.dot)


def test_dot_errors():
    with pytest.raises(ValueError, match="dot"):
        ops.dot(np.ones((2, 3)), np.ones((2, 4, 5)))


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("bqhd,bkhd->bhqk", [(2, 3, 2, 4), (2, 4, 2, 4)]),
    ("bhqk,bkhd->bqhd", [(2, 2, 3, 4), (2, 4, 2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ijk->j", [(2, 3, 2)]),
    ("ij", [(2, 3)]),
    ("ba", [(2, 3)]),
    ("ij,kj", [(2, 3), (4, 3)]),
    ("i,i", [(3,), (3,)]),
    ("i,i->i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("bij,jk->bk", [(2, 3, 4), (4, 2)]),
    ("abc,cd->", [(2, 3, 2), (2, 2)]),
    ("ijk,ik->kj", [(2, 3, 2), (2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk", [(2, 1, 3, 2), (3, 2, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 2), (2, 4)]),
    ("i...,i->...", [(2, 3, 2), (2,)]),
    ("...i,...i->...", [(1, 3), (4, 3)]),
    ("...ij->...ji", [(2, 2, 3)]),
    (" b i j , b j k -> b i k ", [(2, 2, 3), (2, 3, 2)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(spec, shapes):
    inputs = [rand(*s) for s in shapes]
    check_op(
        lambda *xs: ops.einsum(spec, *xs), inputs, lambda *xs: np.einsum(spec.replace(" ", ""), *xs)
    )


def test_einsum_ints():
    a = np.arange(6, dtype="int32").reshape(2, 3)
    check_op(lambda a: ops.einsum("ij,kj->ik", a, a), [a], lambda a: np.einsum("ij,kj->ik", a, a),
             grad_inputs=(), expected_dtype="int32")  # fmt: skip


def test_einsum_symbolic_unknown_batch():
    q = SymbolicTensor((None, 5, 2, 4), "float32")
    k = SymbolicTensor((None, 6, 2, 4), "float32")
    out = ops.einsum("bqhd,bkhd->bhqk", q, k)
    assert out.shape == (None, 2, 5, 6)
    qv, kv = rand(3, 5, 2, 4).astype("float32"), rand(3, 6, 2, 4).astype("float32")
    value = graph.evaluate([out], {q: qv, k: kv})[0]
    np.testing.assert_allclose(value, np.einsum("bqhd,bkhd->bhqk", qv, kv), rtol=1e-5, atol=1e-6)
    dense = ops.einsum("bti,io->bto", SymbolicTensor((None, None, 3)), rand(3, 2))
    assert dense.shape == (None, None, 2)


@pytest.mark.parametrize(
    "spec, shapes, known",
    [
        ("bti,io->bto", [(2, 3, 4), (4, 2)], [(None, None, 4), (4, 2)]),
        ("bti,ioc->btoc", [(2, 3, 4), (4, 2, 3)], [(None, None, 4), (4, 2, 3)]),
        ("btd,bsd->bts", [(2, 3, 4), (2, 2, 4)], [(None, None, 4), (None, None, 4)]),
        ("bt,bt->b", [(2, 3), (2, 3)], [(None, None), (None, None)]),
        ("ti,tj->ij", [(3, 2), (3, 4)], [(None, None), (None, 4)]),
        ("bt,c->btc", [(2, 3), (4,)], [(None, None), (4,)]),
        ("...d,de->...e", [(2, 3, 4), (4, 2)], [(None, None, 4), (4, 2)]),
    ],
)
def test_einsum_several_unknown_dims(spec, shapes, known):
    """Traced with unknown dims (no reshape can merge them), evaluated, and differentiated:
    values and gradients match the eager computation."""
    values = [rand(*s) for s in shapes]
    placeholders = [SymbolicTensor(k, "float64") for k in known]
    out = ops.einsum(spec, *placeholders)
    eager = ops.einsum(spec, *[Tensor(v) for v in values])
    assert len(out.shape) == len(eager.shape)
    assert all(d in (None, e) for d, e in zip(out.shape, eager.shape, strict=True))
    cotangent = rand(*eager.shape)
    # A symbolic cotangent keeps the unknown dims unknown in the backward graph.
    seed = SymbolicTensor(out.shape, "float64")
    grads = gradients([ops.sum(out * seed)], placeholders)
    feed = dict(zip(placeholders, values, strict=True)) | {seed: cotangent}
    result, *sym_grads = graph.evaluate([out, *grads], feed)
    np.testing.assert_allclose(result, np.einsum(spec, *values), rtol=1e-10)
    tensors = [Tensor(v) for v in values]
    with GradientTape() as tape:
        tape.watch(tensors)
        loss = ops.sum(ops.einsum(spec, *tensors) * cotangent)
    for sym, expected in zip(sym_grads, tape.gradient(loss, tensors), strict=True):
        np.testing.assert_allclose(sym, expected.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "spec, shapes, match",
    [
        ("ii->i", [(3, 3)], "einsum.*diagonal"),
        ("ii", [(3, 3)], "einsum.*diagonal"),
        ("ij,jk->ik", [(2, 3)], "einsum.*2 operands"),
        ("ijk->i", [(2, 3)], "einsum.*operand 0"),
        ("ij,jk->ik", [(2, 3), (4, 5)], "einsum.*'j'"),
        ("ij->k", [(2, 3)], "einsum.*'k'"),
        ("ij->ii", [(2, 3)], "einsum.*repeated output"),
        ("...ij->ij", [(4, 2, 3)], r"einsum.*'\.\.\.'"),
        ("i1->i", [(2, 3)], "einsum.*invalid"),
        ("ij->i->j", [(2, 3)], "einsum.*->"),
    ],
)
def test_einsum_errors(spec, shapes, match):
    with pytest.raises(ValueError, match=match):
        ops.einsum(spec, *[np.ones(s) for s in shapes])
