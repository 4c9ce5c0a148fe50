"""Small fused groups run as numpy calls (`fusion_numpy`): the bits of the generated kernel
they replace, over the leaf kinds (full, row, col, scalar), dtypes and special values; what
would differ (integer arithmetic, maximum's and relu's NaN and signed-zero rules) keeps the
kernel; and a step runs without allocating."""

import tracemalloc
import warnings

import numpy as np
import pytest

from backend.compiler import fusion, fusion_numpy

SPECIAL = [0.0, -0.0, 1.0, -2.5, 1e-3, 3.4e38, -3.4e38, 1e-45, np.inf, -np.inf, np.nan, 7.0]
SHAPE = (6, 5)
LOOP = {"full": SHAPE, "row": (5,), "col": (6, 1), "scalar": (1,)}

# (body, leaf kinds, leaf dtypes, results)
CASES = {
    "bias": (["t0 = (a0 + a1)"], ["full", "row"], ["float32"] * 2, [0]),
    "normalize": (["t0 = (a0 / a1)"], ["full", "col"], ["float32"] * 2, [0]),
    "normalize_add": (
        ["t0 = (a0 / a1)", "t1 = (t0 + a2)"],
        ["full", "col", "full"],
        ["float32"] * 3,
        [1],
    ),
    "xent_grad": (
        ["t0 = (a0 * a1)", "t1 = (t0 / a2)", "t2 = -t1"],
        ["full", "full", "col"],
        ["float32"] * 3,
        [2],
    ),
    "clip_grad": (
        [
            "t0 = (a0 >= s1)",
            "t1 = (a2 <= s3)",
            "t2 = (a4 * a5)",
            "t3 = (t2 / a6)",
            "t4 = (t3 if t1 else s7)",
            "t5 = (t4 if t0 else s8)",
        ],
        ["full", "scalar", "full", "scalar", "full", "full", "full", "scalar", "scalar"],
        ["float32"] * 9,
        [5],
    ),
    "accuracy": (["t0 = (a0 == a1)", "t1 = np.float32(t0)"], ["full", "full"], ["int32"] * 2, [1]),
    "many_ops": (
        [
            "t0 = (a0 - s1)",
            "t1 = np.sqrt(t0)",
            "t2 = abs(t1)",
            "t3 = t2",
            "t4 = (t3 * a2)",
            "t5 = (a0 < a2)",
            "t6 = (t5 != 0)",
            "t7 = (t6 and t5)",
            "t8 = (t7 or t5)",
            "t9 = (t4 if t8 else a0)",
            "t10 = np.float64(t9)",
        ],
        ["full", "scalar", "row"],
        ["float32"] * 3,
        [10, 4, 8],
    ),
    "float64": (
        ["t0 = (a0 * a1)", "t1 = (t0 - a1)", "t2 = (t1 / a0)"],
        ["full", "full"],
        ["float64"] * 2,
        [2, 0],
    ),
    "int_divide": (["t0 = (a0 / a1)"], ["full", "row"], ["int64"] * 2, [0]),
}


def _leaf(kind, dtype, rng):
    shape = LOOP[kind]
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("int"):
        return rng.integers(-3, 4, shape).astype(dtype)
    return rng.choice(SPECIAL + list(rng.standard_normal(12)), shape).astype(dtype)


def _outs(body, leaves, results):
    names = {"np": np}
    for i, leaf in enumerate(leaves):
        names[f"a{i}"] = names[f"s{i}"] = leaf
    with np.errstate(all="ignore"):
        for line in body:
            exec(line.replace(" and ", " & ").replace(" or ", " | ")  # noqa: S102
                 .replace("(t4 if t8 else a0)", "np.where(t8, t4, a0)")
                 .replace("(t3 if t1 else s7)", "np.where(t1, t3, s7)")
                 .replace("(t4 if t0 else s8)", "np.where(t0, t4, s8)"), names)  # fmt: skip
    return [np.full(SHAPE, 99, np.asarray(names[f"t{r}"]).dtype) for r in results]


def _no_kernel():
    raise AssertionError("the group fell back to its compiled kernel")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_small_group_gives_the_bits_of_its_compiled_kernel(case):
    body, kinds, dtypes, results = CASES[case]
    compiled = fusion.compiled_runner(body, kinds, results, SHAPE, len(body))
    run = fusion_numpy.runner(body, kinds, results, SHAPE, _no_kernel)
    assert run is not None
    rng = np.random.default_rng(len(case))
    for trial in range(100):
        leaves = [_leaf(k, d, rng) for k, d in zip(kinds, dtypes, strict=True)]
        want = _outs(body, leaves, results)
        got = [np.full_like(w, 99) for w in want]
        bound = [np.full_like(w, 99) for w in want]
        compiled(*leaves, *want)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no floating-point warnings
            run(*leaves, *got)
            run.bind(*leaves, *bound)()
        for w, g, b in zip(want, got, bound, strict=True):
            assert _same_bits(w, g) and _same_bits(w, b), (case, trial, leaves, w, g)


def _same_bits(a, b):
    """The same bits, except that a NaN may be any NaN: which of two NaN operands an add
    returns (or the sign of a NaN an invalid operation makes) depends on the order LLVM
    puts a commutative operation's operands in, not on the arithmetic."""
    if a.dtype.kind != "f":
        return a.tobytes() == b.tobytes()
    nan = np.isnan(a)
    return bool((nan == np.isnan(b)).all()) and a[~nan].tobytes() == b[~nan].tobytes()


def test_an_output_that_is_an_input_is_computed_from_the_old_values():
    run = fusion.runner(["t0 = (a0 + a1)", "t1 = (a0 * a1)"], ["full", "full"], [1, 0], (8,), 2)
    x, y = np.arange(8, dtype=np.float32), np.full(8, 2.0, np.float32)
    total = np.empty(8, np.float32)
    run(x, y, x, total)  # x = x * y and total = x + y, both from the old x
    assert x.tolist() == [2.0 * v for v in range(8)]
    assert total.tolist() == [v + 2.0 for v in range(8)]


@pytest.mark.parametrize("body", [
    ["t0 = (a0 if (a0 >= a1 or a0 != a0) else a1)"],  # maximum: -0.0 and NaN rules
    ["t0 = relu_value(a0)"],  # relu: a helper the kernels call
    ["t0 = np.sign(a0)"],  # Numba's sign(-0.0) is -0.0
    ["t0 = (a0 ** a1)"],
    ["t0 = (a0 * 2.0)"],
])  # fmt: skip
def test_what_numpy_would_compute_otherwise_keeps_the_kernel(body):
    assert fusion_numpy.runner(body, ["full", "full"], [0], SHAPE, lambda: None) is None


def test_integer_arithmetic_and_large_outputs_keep_the_kernel():
    made = []
    body = ["t0 = (a0 + a1)"]
    run = fusion_numpy.runner(body, ["full", "full"], [0], (4,), lambda: made.append(1) or (
        lambda *a: np.add(a[0], a[1], out=a[2])))  # fmt: skip
    x = np.array([1, 2, 3, 2**31 - 1], np.int32)
    out = np.empty(4, np.int32)
    run(x, x, out)  # int32 + int32 is computed in int64 by the kernel: the kernel runs
    assert made == [1]
    big = (fusion_numpy.MAX_ELEMENTS + 1,)
    assert fusion_numpy.runner(body, ["full", "full"], [0], big, lambda: None) is None


def test_a_single_samples_group_keeps_the_kernel_and_a_batchs_does_not():
    body = ["t0 = (a0 + a1)"]
    kinds = ["full", "row"]
    assert fusion_numpy.runner(body, kinds, [0], (1, 10), lambda: None) is None
    assert fusion_numpy.runner(body, kinds, [0], (1, 4, 4, 3), lambda: None) is None
    assert fusion_numpy.runner(body, kinds, [0], (2, 10), lambda: None) is not None
    assert fusion_numpy.runner(body, ["full", "full"], [0], (10,), lambda: None) is not None


def _peak_of_a_bound_call(rows):
    """The most a bound call of the clip and the normalize groups over (rows, 5) (scalar and
    column leaves) has allocated at once."""
    peaks = []
    for case in ("clip_grad", "normalize_add"):
        peaks.append(_peak_of_one(rows, *CASES[case]))
    return max(peaks)


def _peak_of_one(rows, body, kinds, dtypes, results):
    shapes = {"full": (rows, 5), "scalar": (1,), "col": (rows,)}
    leaves = [np.ones(shapes[k], np.float32) for k in kinds]
    out = np.empty((rows, 5), np.float32)
    call = fusion_numpy.runner(body, kinds, results, (rows, 5), _no_kernel).bind(*leaves, out)
    call()
    tracemalloc.start()
    try:
        call()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(20):
            call()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - before < 256  # nothing stays
    return peak - before


def test_a_bound_small_group_allocates_nothing_that_grows_with_its_size():
    # A ufunc broadcasting a scalar or a row allocates buffers of the output's size on every
    # call: the leaves are spread into full-size buffers once per call instead.
    small, large = _peak_of_a_bound_call(6), _peak_of_a_bound_call(600)
    assert large - small < 128 and large < 2048, (small, large)


def test_a_leaf_broadcast_in_the_middle_is_its_own_kind():
    out = (4, 3, 5)
    assert fusion.leaf_kind((4, 1, 5), out) == "mid"  # a per-sample value over the steps
    assert fusion.leaf_kind((4, 1, 1, 5), (4, 2, 3, 5)) == "mid"
    assert fusion.leaf_kind((4, 2, 1, 5), (4, 2, 3, 5)) == "mid"
    assert fusion.leaf_kind((1, 1, 5), out) == "row"
    assert fusion.leaf_kind((4, 3, 1), out) == "col"
    for unsupported in [(4, 1, 1), (4, 1, 6), (4, 5), (2, 1, 5)]:
        assert fusion.leaf_kind(unsupported, out) is None, unsupported
    assert fusion.leaf_kind((4, 1, 1, 5), (4, 2, 1, 5)) == "mid"
    assert fusion.leaf_kind((4, 1, 2, 5), (4, 3, 2, 5)) is None  # not a run of ones
    # The output's last axes, repeated over the leading ones: a (heads, size) bias.
    assert fusion.leaf_kind((2, 5), (4, 3, 2, 5)) == "tile"
    assert fusion.leaf_kind((1, 3, 2, 5), (4, 3, 2, 5)) == "tile"
    assert fusion.leaf_kind((3, 5), out) == fusion.leaf_kind((1, 3, 5), out) == "tile"
    assert fusion.leaf_kind((2, 5), (4, 3, 3, 5)) is None


def _broadcast_leaf_shape(kind, out_shape):
    """A leaf of `kind` for `out_shape`: "mid" keeps the leading axes (two of them for the
    (2, 2, 3, 5) case) and the last; "tile" is the last two axes."""
    if kind == "tile":
        return out_shape[-2:]
    if out_shape == (2, 2, 3, 5):
        return (2, 2, 1, 5)
    return (out_shape[0], *[1] * (len(out_shape) - 2), out_shape[-1])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("out_shape", [(4, 3, 5), (2, 2, 3, 5), (64, 37, 24), (7, 5, 11, 24)])
@pytest.mark.parametrize("kind", ["mid", "tile"])
def test_a_broadcast_leaf_reads_the_row_it_stands_for(kind, out_shape, threads, monkeypatch):
    from backend import config

    # Shares of the loop's rows start inside a sample (or a repeat of a tiled leaf): each
    # share finds its rows of the leaf.
    monkeypatch.setattr(config, "_parallel_threshold", 0)
    monkeypatch.setattr(config, "_num_threads", threads)
    rng = np.random.default_rng(sum(out_shape))
    x = rng.standard_normal(out_shape).astype(np.float32)
    leaf = rng.standard_normal(_broadcast_leaf_shape(kind, out_shape)).astype(np.float32)
    assert fusion.leaf_kind(leaf.shape, out_shape) == kind
    body = ["t0 = (a0 * a1)", "t1 = (t0 + a1)"]
    want = x * leaf + leaf
    compiled = fusion.compiled_runner(body, ["full", kind], [1], out_shape, 2)
    got = np.full(out_shape, np.nan, np.float32)
    compiled(x, leaf, got)
    assert got.tobytes() == want.tobytes()
    small = fusion_numpy.runner(body, ["full", kind], [1], out_shape, _no_kernel)
    if np.prod(out_shape) <= fusion_numpy.MAX_ELEMENTS:
        got[...] = np.nan
        small(x, leaf, got)
        assert got.tobytes() == want.tobytes()
        bound = np.full(out_shape, np.nan, np.float32)
        small.bind(x, leaf, bound)()
        assert bound.tobytes() == want.tobytes()
    else:
        assert small is None
