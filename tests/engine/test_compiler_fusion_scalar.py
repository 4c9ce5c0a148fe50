"""Fused groups of one element (an optimizer's step count and bias corrections, a metric's
running mean) run as Python over numpy scalars instead of a compiled kernel: the same bits
as the kernel the group would have compiled, no warnings, and no kernel compiled."""

import warnings

import numpy as np
import pytest

import kerasish as keras
from backend.compiler import fusion

INF, NAN = np.inf, np.nan
FLOATS = [0.0, -0.0, 1.0, -2.5, 1e-3, 0.999, 3.4e38, -3.4e38, 1e-45, INF, -INF, NAN, 7.0]

# (body, leaf dtypes, results): groups the training step of a model with Adam and a metric
# makes, and the other templates a group of one element may hold.
CASES = {
    "adam_rate": (
        [
            "t0 = (a0 - a1)",
            "t1 = np.sqrt(t0)",
            "t2 = (a2 * t1)",
            "t3 = (a3 - a4)",
            "t4 = (t2 / t3)",
        ],
        ["float32"] * 5,
        [4],
    ),
    "step_count": (["t0 = (a0 + a1)", "t1 = np.float32(t0)"], ["int64"] * 2, [1, 0]),
    "running_mean": (
        [
            "t0 = (a0 + a1)",
            "t1 = t0",
            "t2 = (a3 if a2 else a4)",
            "t3 = (t1 / t2)",
            "t4 = (a5 if a2 else t3)",
        ],
        ["float32", "float32", "bool", "float32", "float32", "float32"],
        [4, 0],
    ),
    "compare_cast": (["t0 = (a0 == a1)", "t1 = np.float32(t0)"], ["int32"] * 2, [1]),
    "extremes": (
        [
            "t0 = (a0 - a1)",
            "t1 = (a0 + a1)",
            "t2 = (t0 * t1)",
            "t3 = -t2",
            "t4 = abs(t3)",
            "t5 = (t3 / t0)",
            "t6 = (t4 < t5)",
            "t7 = (t6 != 0)",
            "t8 = (t4 if t7 else t5)",
        ],
        ["float32"] * 2,
        [8, 2],
    ),
    "float64_chain": (
        ["t0 = (a0 * a1)", "t1 = (t0 + a0)", "t2 = (t1 / a1)", "t3 = np.sqrt(t2)"],
        ["float64"] * 2,
        [3],
    ),
    "int_division": (["t0 = (a0 / a1)", "t1 = (t0 - a0)"], ["int64"] * 2, [0]),
}


def _values(dtype, count, rng):
    if dtype == "bool":
        return [np.array([v], bool) for v in rng.integers(0, 2, count)]
    if dtype.startswith("int"):
        return [np.array([v], dtype) for v in rng.integers(-3, 4, count)]
    return [np.array([v], dtype) for v in rng.choice(FLOATS, count)]


def _out_dtype(body, dtypes, result):
    """The dtype numpy gives the result: what the Plan's output buffer would have."""
    names = {"np": np, "math": np}
    for i, dtype in enumerate(dtypes):
        names[f"a{i}"] = np.ones((), dtype)[()]
    with np.errstate(all="ignore"):
        for line in body:
            exec(line, names)  # noqa: S102
    return np.asarray(names[f"t{result}"]).dtype


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_group_of_one_element_gives_the_bits_of_its_compiled_kernel(case):
    body, dtypes, results = CASES[case]
    assert fusion.runs_in_python(body)
    kinds = ["full"] * len(dtypes)
    compiled = fusion.load_kernel(fusion.generate_source("fused", body, kinds, False, results))
    run = fusion.runner(body, kinds, results, (1,), len(body))
    assert run.in_python
    out_dtypes = [_out_dtype(body, dtypes, r) for r in results]
    rng = np.random.default_rng(len(case))
    for trial in range(300):
        leaves = [_values(d, 1, rng)[0] for d in dtypes]
        want = [np.full(1, 99, d) for d in out_dtypes]
        got = [np.full(1, 99, d) for d in out_dtypes]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the Python path warns about nothing
            compiled(0, 1, *leaves, *want)
            run(*leaves, *got)
            run.bind(*leaves, *[g.reshape(()) for g in got])()  # bound, on 0-d views
        for w, g in zip(want, got, strict=True):
            assert w.tobytes() == g.tobytes(), (case, trial, leaves, w, g)


def test_an_output_that_is_an_input_is_computed_from_the_old_value():
    run = fusion.runner(["t0 = (a0 + a1)", "t1 = (a0 * a1)"], ["full", "scalar"], [1, 0], (),
                        2)  # fmt: skip
    x, y = np.array(3.0, np.float32), np.array([4.0], np.float32)
    total = np.empty((), np.float32)
    run(x, y, x, total)  # x = x * y, total = x + y, both from the old x
    assert (float(x), float(total)) == (12.0, 7.0)


def test_relu_sign_and_fast_math_keep_the_compiled_kernel(monkeypatch):
    # relu calls a typed helper, which numpy calls do not run.
    assert not fusion.runs_in_python([f"t0 = {fusion.TEMPLATES['relu'].format('a0')}"])
    # Numba's np.sign(-0.0) is -0.0, numpy's 0.0.
    assert not fusion.runs_in_python(["t0 = np.sign(a0)"])
    # maximum (as numpy calls it would differ in NaN and signed-zero rules: kept alike).
    assert not fusion.runs_in_python(["t0 = (a0 if (a0 >= a1 or a0 != a0) else a1)"])
    from backend import config

    monkeypatch.setitem(config._jit_settings, "fastmath", True)
    assert not fusion.runs_in_python(["t0 = (a0 + a1)"])


def test_a_group_of_one_element_makes_no_kernel(monkeypatch):
    def no_kernel(source):
        raise AssertionError("a kernel was generated")

    monkeypatch.setattr(fusion, "load_kernel", no_kernel)
    run = fusion.runner(["t0 = (a0 * s1)"], ["full", "scalar"], [0], (1, 1), 1)
    out = np.empty((1, 1), np.float32)
    run(np.array([[3.0]], np.float32), np.array(2.0, np.float32), out)
    assert out[0, 0] == 6.0
    with pytest.raises(AssertionError, match="generated"):
        fusion.runner(["t0 = (a0 * s1)"], ["full", "scalar"], [0], (2**20,), 1)


def test_the_scalar_groups_of_a_training_step_run_in_python():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.ones((4, 3), np.float32)
    model.fit(x, np.zeros((4, 2), np.float32), batch_size=4, verbose=0)
    (fn,) = [f for key, f in model._step_fns.items() if key[0] == "train"]
    plan = next(iter(fn._plans.values()))[0]
    fused = [s for s in plan.steps if s.name.startswith("fused[")]
    one = [s for s in fused if all(np.prod(plan.slots[o].shape) == 1 for o in s.outputs)]
    assert one, [s.name for s in plan.steps]  # Adam's step count and bias corrections
    assert all(getattr(s.run, "in_python", False) for s in one)
    assert not any(getattr(s.run, "in_python", False) for s in fused if s not in one)


def test_int32_arithmetic_keeps_the_kernel():
    # Numba adds int32 in int64: 2**31 - 1 + 1 is 2**31 there, -2**31 in numpy's int32.
    run = fusion.runner(["t0 = (a0 + a1)", "t1 = np.float32(t0)"], ["full", "full"], [1], (1,), 2)
    out = np.empty(1, np.float32)
    run(np.array([2**31 - 1], np.int32), np.array([1], np.int32), out)
    assert out[0] == 2.0**31
    bound = np.empty(1, np.float32)
    run.bind(np.array([2**31 - 1], np.int32), np.array([1], np.int32), bound)()
    assert bound[0] == 2.0**31
