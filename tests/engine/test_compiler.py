"""The compiler: tracing, Plans (pruning, fusion, buffer reuse, Variable effects in program
order), the Plan cache, fresh outputs, flat memory, and no kernel recompiles."""

import threading
import tracemalloc

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, kernels, ops

rng = np.random.default_rng(0)


def test_traced_results_match_eager_and_outputs_keep_structure():
    w = Variable(rng.standard_normal((3, 2)))

    def fn(x, scale):
        y = ops.tanh(ops.matmul(x, w)) * scale
        return {"y": y, "parts": [ops.sum(y), ops.mean(y, axis=0)]}

    f = compiler.function(fn)
    x = rng.standard_normal((4, 3)).astype("float32")
    out = f(x, 2.0)
    eager = fn(x, 2.0)
    assert set(out) == {"y", "parts"} and isinstance(out["parts"], list)
    np.testing.assert_allclose(out["y"], eager["y"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["parts"][0], eager["parts"][0].numpy(), rtol=1e-5)
    assert isinstance(out["y"], np.ndarray) and out["y"].dtype == np.float32


def test_value_control_flow_is_a_clear_error_shape_control_flow_works():
    def bad(x):
        if ops.sum(x) > 0:
            return x
        return -x

    with pytest.raises(TypeError, match="run_eagerly"):
        compiler.function(bad)(np.ones(3))

    def good(x):
        if x.shape[0] > 2:
            return x * 2
        return x

    np.testing.assert_allclose(compiler.function(good)(np.ones(3)), [2.0, 2.0, 2.0])


def test_plan_cache_per_signature_and_static_arguments():
    f = compiler.function(lambda x, k: x * k)
    f(np.ones(3), 2)
    f(np.ones(3), 2)
    assert f.plan_count == 1
    f(np.ones(4), 2)
    f(np.ones(3, np.float32), 2)
    f(np.ones(3), 3)
    assert f.plan_count == 4
    np.testing.assert_allclose(f(np.ones(3), 3), [3.0, 3.0, 3.0])
    with pytest.raises(TypeError, match="hashable"):
        f(np.ones(3), [1, 2])


def test_plan_cache_keeps_the_most_recently_used_plans(monkeypatch):
    from backend import config

    traces = []

    def fn(x):
        traces.append(x.shape)
        return x + 1.0

    monkeypatch.setattr(config, "_plan_cache_size", 2)
    f = compiler.function(fn)
    for n in (1, 2, 1, 3):  # 1 is used again before 3 arrives, so 2 is the one dropped
        np.testing.assert_allclose(f(np.zeros(n)), np.ones(n))
    assert f.plan_count == 2
    # 3 was re-planned from the graph traced at 1 (sizes 1 and 2 showed it batch-free).
    assert traces == [(1,), (2,)] and f.replans == 1
    f(np.zeros(1))  # still cached: no new Plan
    assert len(traces) == 2 and f.replans == 1
    f(np.zeros(2))  # dropped: built again
    assert len(traces) == 2 and f.replans == 2 and f.plan_count == 2
    with pytest.raises(ValueError, match=r"Received: n=0"):
        config.set_plan_cache_size(0)


def test_long_elementwise_chains_run_as_shared_kernels_of_bounded_size():
    from backend.compiler import fusion, fusion_numpy

    size = fusion_numpy.MAX_ELEMENTS + 1  # past the size that runs as numpy calls

    def chain(*xs):  # the sum of a weight's gradients over the steps of an unrolled RNN
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total

    for length in (70, 100):
        xs = [rng.standard_normal(size).astype(np.float32) for _ in range(length)]
        f = compiler.function(chain)
        np.testing.assert_allclose(f(*xs), np.sum(xs, axis=0), rtol=1e-5)
        names = f.plan_for(*xs).describe()
        sizes = [name.count(",") + 1 for name in names]
        assert max(sizes) == fusion.MAX_GROUP_NODES and sum(sizes) == length - 1
    # Every full run has the same source: both lengths loaded one kernel for all their full runs.
    argcount = {k: v.py_func.__code__.co_argcount for k, v in fusion._loaded.items()}
    # (start, stop, the group's MAX_GROUP_NODES + 1 inputs, its output)
    full_runs = {k for k, n in argcount.items() if n == fusion.MAX_GROUP_NODES + 4}
    assert len(full_runs) == 1


def test_unused_nodes_are_pruned_and_bias_relu_fuse_into_the_matmul_buffer():
    w = Variable(rng.standard_normal((5, 4)), dtype="float64")
    b = Variable(rng.standard_normal(4), dtype="float64")

    def fn(x):
        unused = ops.exp(x) * 3.0  # noqa: F841 - never returned
        return ops.relu(ops.matmul(x, w) + b)

    f = compiler.function(fn)
    x = rng.standard_normal((6, 5))
    np.testing.assert_allclose(f(x), np.maximum(x @ w.numpy() + b.numpy(), 0), rtol=1e-12)
    plan = f.plan_for(x)
    assert plan.describe() == ["matmul", "fused[add,relu]"]
    matmul, epilogue = plan.steps
    # The epilogue overwrites the matmul's output: one buffer, one extra pass.
    assert plan.arrays[epilogue.outputs[0]] is plan.arrays[matmul.outputs[0]]


def test_buffers_are_reused_by_liveness():
    def chain(x):
        for _ in range(10):
            x = ops.matmul(x, np.eye(8)) + 1.0  # non-elementwise steps between
            x = ops.sum(ops.reshape(x, (8, 8)), axis=0, keepdims=True) * np.ones((8, 1))
        return x

    f = compiler.function(chain)
    x = rng.standard_normal((8, 8))
    f(x)
    plan = f.plan_for(x)
    owners = {
        id(a.base if a.base is not None else a)
        for s, a in zip(plan.slots, plan.arrays, strict=True)
        if s.kind == "buffer"
    }
    slots = [s for s in plan.slots if s.kind == "buffer"]
    assert len(slots) == 40 and len(owners) <= 3


def test_variable_assignments_keep_program_order():
    v = Variable(np.array([1.0, 2.0]), dtype="float64")
    w = Variable(np.array([10.0, 10.0]), dtype="float64")

    def step(x):
        before = v * 1.0
        v.assign(v + x)  # later reads see the new value
        after = v * 1.0
        v.assign_add(after)  # assigned twice: the last one is what remains
        w.assign_sub(before)
        return before, after

    f = compiler.function(step)
    before, after = f(np.array([1.0, 1.0]))
    np.testing.assert_allclose(before, [1.0, 2.0])
    np.testing.assert_allclose(after, [2.0, 3.0])
    np.testing.assert_allclose(v.numpy(), [4.0, 6.0])
    np.testing.assert_allclose(w.numpy(), [9.0, 8.0])
    before, after = f(np.array([1.0, 1.0]))  # the next run starts from the new state
    np.testing.assert_allclose(before, [4.0, 6.0])
    np.testing.assert_allclose(v.numpy(), [10.0, 14.0])


def test_discriminator_updated_then_used_again_sees_new_weights():
    # A GAN step: update d, then use d again in the same traced step.
    d = Variable(np.array([[1.0], [2.0]]), dtype="float64")

    def step(x):
        with GradientTape() as tape:
            loss = ops.sum(ops.matmul(x, d))
        (grad,) = tape.gradient(loss, [d])
        d.assign_sub(0.5 * grad)
        return ops.sum(ops.matmul(x, d))  # must use the updated d

    f = compiler.function(step)
    x = np.array([[1.0, 1.0]])
    out = f(x)
    np.testing.assert_allclose(d.numpy(), [[0.5], [1.5]])
    np.testing.assert_allclose(out, 2.0)
    eager_d = Variable(np.array([[1.0], [2.0]]), dtype="float64")
    with GradientTape() as tape:
        loss = ops.sum(ops.matmul(x, eager_d))
    eager_d.assign_sub(0.5 * tape.gradient(loss, eager_d).numpy())
    np.testing.assert_allclose(d.numpy(), eager_d.numpy())


def test_outputs_are_fresh_arrays():
    f = compiler.function(lambda x: x * 2.0)
    x = np.ones(3)
    first = f(x)
    first[:] = 99.0
    second = f(x)
    np.testing.assert_allclose(second, [2.0, 2.0, 2.0])
    plan = f.plan_for(x)
    assert not any(np.shares_memory(second, a) for a in plan.arrays if a is not None)


def _train_step_factory(seed=0):
    r = np.random.default_rng(seed)
    w1 = Variable(r.uniform(-0.3, 0.3, (16, 32)))
    b1 = Variable(np.zeros(32))
    w2 = Variable(r.uniform(-0.3, 0.3, (32, 4)))
    b2 = Variable(np.zeros(4))
    params = [w1, b1, w2, b2]

    def step(x, y):
        with GradientTape() as tape:
            h = ops.relu(ops.matmul(x, w1) + b1)
            logits = ops.matmul(h, w2) + b2
            loss = ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, params)
        for p, g in zip(params, grads, strict=True):
            p.assign_sub(0.1 * g)
        return loss

    return step, params


def test_compiled_training_step_matches_eager_step():
    step_c, params_c = _train_step_factory()
    step_e, params_e = _train_step_factory()
    f = compiler.function(step_c)
    x = rng.standard_normal((8, 16)).astype("float32")
    y = rng.integers(0, 4, 8).astype("int32")
    for _ in range(3):
        loss_c = f(x, y)
        loss_e = step_e(x, y)
        np.testing.assert_allclose(loss_c, loss_e.numpy(), rtol=1e-5)
    for pc, pe in zip(params_c, params_e, strict=True):
        np.testing.assert_allclose(pc.numpy(), pe.numpy(), rtol=1e-5, atol=1e-6)


def test_new_batch_size_builds_a_plan_but_compiles_no_kernel():
    step, _ = _train_step_factory(1)
    f = compiler.function(step)
    x = rng.standard_normal((32, 16)).astype("float32")
    y = rng.integers(0, 4, 32).astype("int32")
    f(x, y)
    compiled = kernels.compiled_signature_count()
    f(x[:17], y[:17])
    assert f.plan_count == 2
    assert kernels.compiled_signature_count() == compiled


def test_memory_is_flat_over_a_thousand_runs():
    step, _ = _train_step_factory(2)
    f = compiler.function(step)
    x = rng.standard_normal((16, 16)).astype("float32")
    y = rng.integers(0, 4, 16).astype("int32")
    tracemalloc.start()
    try:
        for _ in range(100):  # first runs fill interpreter caches and free lists
            f(x, y)
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            f(x, y)
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A leak of 16 bytes a run would show; a Plan allocates no buffers once built.
    assert end - start < 16 * 1024, f"memory grew by {end - start} bytes over 1000 runs"


def test_plans_are_safe_to_call_from_two_threads():
    f = compiler.function(lambda x: ops.sum(ops.exp(x) * 2.0, axis=1))
    x = rng.standard_normal((64, 32))
    expected = np.sum(np.exp(x) * 2.0, axis=1)
    errors = []

    def work():
        try:
            for _ in range(50):
                np.testing.assert_allclose(f(x), expected, rtol=1e-12)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_convert_to_tensor_of_a_variable_reads_it_when_the_plan_runs():
    v = Variable(np.ones(2))
    f = compiler.function(lambda x: ops.convert_to_tensor(v) + x)
    np.testing.assert_allclose(f(np.zeros(2, np.float32)), [1.0, 1.0])
    v.assign([5.0, 5.0])
    np.testing.assert_allclose(f(np.zeros(2, np.float32)), [5.0, 5.0])


def test_pooling_and_bias_gradients_in_a_plan_match_eager():
    # max_pool / average_pool and their gradients write into the Plan's buffers; the bias
    # gradient (a sum over the leading axes) runs as the column sum kernel.
    bias = Variable(np.zeros(6, np.float32))

    def fn(x):
        x = ops.convert_to_tensor(x)
        with GradientTape() as tape:
            tape.watch(x)
            y = ops.max_pool(ops.relu(x + bias), 2)
            a = ops.average_pool(x, 3, 2, "same")
            loss = ops.sum(y * y) + ops.sum(a * a)
        dx, db = tape.gradient(loss, [x, bias])
        return y, a, dx, db, ops.sum(x, axis=(0, 1, 2), keepdims=True)

    f = compiler.function(fn)
    x = np.round(rng.standard_normal((5, 9, 9, 6)), 1).astype("float32")  # ties, odd sizes
    got = f(x)
    want = [t.numpy() for t in fn(x)]
    for g, w in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(g, w)  # the same kernels, eager or compiled
    for g, w in zip(got[3:], want[3:], strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)  # summed in another order
    plan = f.plan_for(x)
    names = plan.describe()
    # (the max pool's windows tile its input: it records its argmax for its gradient)
    assert {"max_pool+argmax", "average_pool", "average_pool_grad", "sum"} <= set(names)
    for step in plan.steps:
        if "pool" in step.name:
            assert step.run.__name__ != "run_forward", step.name  # no result to copy in
    column_sums = [s for s in plan.steps if s.run.__name__ == "run_column_sum"]
    assert len(column_sums) == 2  # db and the explicit sum; the total sums stay np.sum


def test_per_sample_broadcasts_max_and_concatenate_in_a_plan_match_eager():
    # A per-sample value over the steps (a recurrent dropout mask, a global max's gradient)
    # fuses as a middle-broadcast leaf; the max and the concatenation write into their
    # buffers instead of copying a result in.
    def fn(x, m):
        x = ops.convert_to_tensor(x)
        with GradientTape() as tape:
            tape.watch(x)
            masked = ops.multiply(x, ops.expand_dims(m, 1))  # (batch, steps, ch) * (batch, 1, ch)
            pooled = ops.max(masked, axis=1, keepdims=True)
            joined = ops.concatenate([masked, x], axis=-1)
            loss = ops.sum(pooled * pooled) + ops.sum(joined * joined)
        (dx,) = tape.gradient(loss, [x])
        return pooled, joined, dx

    f = compiler.function(fn)
    x = np.round(rng.standard_normal((6, 50, 40)), 1).astype("float32")  # ties in the max
    m = rng.standard_normal((6, 40)).astype("float32")
    got = f(x, m)
    want = [t.numpy() for t in fn(x, m)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    plan = f.plan_for(x, m)
    for step in plan.steps:
        assert step.run.__name__ != "run_forward", step.name  # no result copied in
        if step.name in ("multiply", "equal", "where"):  # a lone numpy call: no broadcast
            shapes = {plan.slots[i].shape for i in (*step.inputs, *step.outputs)}
            assert len(shapes) == 1, (step.name, shapes)


def test_pad_and_broadcast_to_in_a_plan_match_numpy():
    def fn(x, row):
        padded = ops.pad(x, ((0, 0), (2, 1), (0, 3)), constant_values=1.5)
        spread = ops.broadcast_to(row, (4, 3, 5))
        return padded, spread, ops.pad(x, ((1, 1), (0, 0), (0, 0)))

    f = compiler.function(fn)
    x = rng.standard_normal((4, 3, 5)).astype("float32")
    row = rng.standard_normal((3, 1)).astype("float32")
    for _ in range(2):  # the second run reuses the buffers the first one filled
        padded, spread, zeros_around = f(x, row)
        np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (2, 1), (0, 3)),
                                                     constant_values=1.5))  # fmt: skip
        np.testing.assert_array_equal(spread, np.broadcast_to(row, (4, 3, 5)))
        np.testing.assert_array_equal(zeros_around, np.pad(x, ((1, 1), (0, 0), (0, 0))))
        x = x + 1.0
    for step in f.plan_for(x, row).steps:
        assert step.run.__name__ != "run_forward", step.name  # written into their buffers


def test_sigmoid_writes_into_its_buffer_with_the_eager_bits():
    # sigmoid is not fused (numpy's tanh beats Numba's scalar one): a lone step that runs
    # the eager path's operations in place instead of making four temporaries.
    f = compiler.function(lambda x: ops.sigmoid(x))
    x = np.concatenate([rng.standard_normal(500) * 10, [0.0, -0.0, 90.0, -90.0, np.nan]])
    x = x.astype("float32").reshape(5, 101)
    assert f(x).tobytes() == ops.sigmoid(x).numpy().tobytes()
    (step,) = f.plan_for(x).steps
    assert step.run.__name__ == "_stable_sigmoid_into"


def test_compiled_relu_is_numpys_maximum_with_zero_on_special_values():
    # NaN stays NaN; -inf, negatives and -0.0 give +0 (a fused `x * 0` gave -0.0, and NaN
    # for -inf), in a fused group and after a batch normalization alike.
    special = [-np.inf, -1.0, -0.0, 0.0, 2.0, np.nan, np.inf, -1e-45]
    x = np.array([special] * 3000, np.float32)  # large enough for a compiled kernel

    def fn(x):
        return ops.relu(x) * 1.0, ops.relu(x + 0.0)

    f = compiler.function(fn)
    want = np.maximum(x, np.float32(0))
    for got in f(x):
        assert got.tobytes() == want.tobytes()
    for got in fn(x):
        assert got.numpy().tobytes() == want.tobytes()


def test_a_reshape_over_a_transpose_copies_into_its_buffer():
    # Not a view (numpy would copy): the step copies x in C order into its own buffer.
    f = compiler.function(lambda x: ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (3, 4, 10)))
    x = rng.standard_normal((3, 5, 4, 2)).astype("float32")
    want = np.reshape(np.transpose(x, (0, 2, 1, 3)), (3, 4, 10))
    for _ in range(2):
        assert f(x).tobytes() == want.tobytes()
    (step,) = f.plan_for(x).steps
    assert step.name == "reshape" and step.run.__name__ != "run_forward"


def test_a_lone_op_on_a_transposed_view_copies_it_first_with_the_same_bits():
    # numpy's buffered loop (a strided operand) allocates up to 32 KB a call; the step copies
    # the operand into its buffer and runs the ufunc there instead.
    def fn(x, y):
        t = ops.transpose(x, (0, 2, 1))
        return ops.multiply(t, 0.25), ops.subtract(y, t), ops.negative(t)

    f = compiler.function(fn)
    x = rng.standard_normal((64, 30, 20)).astype("float32")
    y = rng.standard_normal((64, 20, 30)).astype("float32")
    got = f(x, y)
    want = [t.numpy() for t in fn(x, y)]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()
    plan = f.plan_for(x, y)
    plan.begin([x, y])
    tracemalloc.start()
    try:
        for step in plan.steps:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step.run(*[plan.arrays[i] for i in step.args])
            assert tracemalloc.get_traced_memory()[1] - before < 2048, step.name
    finally:
        tracemalloc.stop()
        plan.end()


def test_arithmetic_after_a_fused_relu_stays_in_the_inputs_dtype():
    # relu(x) * w + b in one fused group: computed in float32 as the eager ops (a float64
    # relu made the rest of the group float64, rounded once at the end: last-bit
    # differences in about 13% of the elements).
    fn = lambda x, w, b: ops.add(ops.multiply(ops.relu(x), w), b)  # noqa: E731
    f = compiler.function(fn)
    x = (rng.standard_normal((200, 50)) * 3).astype("float32")
    w, b = rng.standard_normal((2, 50)).astype("float32")
    assert f(x, w, b).tobytes() == fn(x, w, b).numpy().tobytes()
    assert [s.name for s in f.plan_for(x, w, b).steps] == ["fused[relu,multiply,add]"]
