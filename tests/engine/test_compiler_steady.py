"""The steady state of compiled steps: no allocation in a training step, common
subexpressions computed once, a new batch size re-planned from the traced graph (same numbers
as a fresh trace, no kernel compiled), and the pre-bound fast path of repeated calls."""

import gc
import tracemalloc

import numpy as np
import pytest

import kerasish as keras
from backend import GradientTape, Variable, compiler, config, kernels, ops
from backend.testing import stop_background_compiles
from kerasish import layers

rng = np.random.default_rng(0)


def _mlp(seed=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((20,)), layers.Dense(32, activation="relu"),
                              layers.Dense(32, activation="relu"), layers.Dense(5)])  # fmt: skip
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def _convnet(seed=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((10, 10, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def _classifier(*body, inputs=(12, 5), dtype="float32", seed=3):
    """`body` between an input of shape `inputs` and a 3-class head, trained with Adam."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(inputs, dtype=dtype), *body, layers.Dense(3)])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


class _SelfAttention(layers.Layer):
    """x + attention(x, x), normalized: a transformer block's first half."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(2, 4)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(x + self.attention(x, x))


# Models whose layers run their own kernels or broadcast in ways the MLP and the convnet do
# not: recurrent layers (their sequence kernels' work arrays, the recurrent dropout masks
# broadcast over the steps), a 1-D convolution with a global max pooling (the gradient of
# the max broadcast back, the kernel's gradient a reshape of a 2-D one), layer
# normalization, a concatenation, the exact GELU (erf), a sigmoid, an attention block (its
# (heads, size) biases, its heads reshaped, its query's gradient scaled on a transposed
# view), and upsampling and zero padding (a broadcast and a pad).
_MORE_MODELS = {
    "embedding_lstm": lambda: _classifier(
        layers.Embedding(50, 8), layers.LSTM(16), inputs=(12,), dtype="int32"
    ),
    "gru": lambda: _classifier(layers.GRU(16)),
    "gru_reset_before": lambda: _classifier(layers.GRU(16, reset_after=False)),
    "simple_rnn": lambda: _classifier(layers.SimpleRNN(16)),
    "lstm_dropouts": lambda: _classifier(layers.LSTM(16, dropout=0.2, recurrent_dropout=0.2)),
    "bidirectional": lambda: _classifier(layers.Bidirectional(layers.LSTM(8))),
    "conv1d_max_pool": lambda: _classifier(
        layers.Embedding(50, 8),
        layers.Conv1D(8, 3, activation="relu"),
        layers.GlobalMaxPooling1D(),
        inputs=(12,),
        dtype="int32",
    ),
    "layer_norm": lambda: _classifier(layers.LayerNormalization(), layers.Flatten()),
    "exact_gelu": lambda: _classifier(layers.Dense(6, activation="gelu"), layers.Flatten()),
    "attention": lambda: _classifier(_SelfAttention(), layers.Flatten(), inputs=(12, 8)),
    "sigmoid": lambda: _classifier(layers.Dense(6, activation="sigmoid"), layers.Flatten()),
    "upsampling_padding": lambda: _classifier(
        layers.UpSampling2D(2),
        layers.ZeroPadding2D(1),
        layers.Conv2D(2, 3),
        layers.Flatten(),
        inputs=(4, 4, 2),
    ),
}


def _data(model, n):
    shape = model.inputs[0].shape[1:]
    classes = model.outputs[0].shape[-1]
    if "int" in str(model.inputs[0].dtype):
        return rng.integers(0, 50, (n, *shape)).astype("int32"), rng.integers(0, classes, n)
    x = rng.standard_normal((n, *shape)).astype("float32")
    return x, rng.integers(0, classes, n)


def _train_fn(model):
    (fn,) = [f for key, f in model._step_fns.items() if key[0] == "train"]
    return fn


def _peak_and_growth(run, steps=30):
    stop_background_compiles()  # their output reader allocates
    tracemalloc.start()
    try:
        for _ in range(5):
            run()
        # A full collection empties Python's free lists, which keep freed small objects
        # (tuples) counted as allocated until about 100 KB of them accumulate.
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        peaks = []
        for _ in range(steps):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            run()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    return sorted(peaks), growth


@pytest.mark.parametrize(
    "make", [_mlp, _convnet, *_MORE_MODELS.values()], ids=["mlp", "convnet", *_MORE_MODELS]
)
def test_a_steady_training_step_allocates_no_array(make, monkeypatch):
    model = make()
    # Both sizes fill every chunk of the kernels' column sums (at most 64 chunks of at least
    # 16 rows, their fixed scratch), so only an array of the batch could differ.
    sizes, allowed = (64, 256), 256
    threads = config.get_num_threads()
    if make not in (_mlp, _convnet):
        # Every kernel call on the worker threads at both sizes: a call that switches from one
        # thread to two between them adds the pool's own few KB to the larger one.
        monkeypatch.setattr(config, "_parallel_threshold", 0)
        # These steps hold more Python objects, whose peaks varied by up to 700 bytes between
        # runs of the whole suite: sizes further apart keep an array of the batch (at least
        # 448 * 4 bytes more) above that.
        sizes, allowed = (64, 512), 1024
    peaks = []
    try:
        for batch in sizes:
            x, y = _data(model, batch)
            model.train_on_batch(x, y)
            plan = next(
                p for p, _ in _train_fn(model)._plans.values() if p.slots[0].shape[0] == batch
            )
            assert not any(step.name == "flat_pack" for step in plan.steps)  # gradients in place
            run = lambda plan=plan, x=x, y=y: plan.run([x, y])  # noqa: E731
            step_peaks, growth = _peak_and_growth(run)
            assert growth < 4096, f"memory grew by {growth} bytes over 30 steps"
            assert step_peaks[-1] < 64 * 1024, step_peaks
            if make not in (_mlp, _convnet):
                # A Numba kernel call holds its arguments' own objects while it runs (7.5 KB
                # for an LSTM's 17 arguments), so a step's peak counts two calls' when the
                # threads' calls overlap, and how often they do depends on timing. Compared
                # on one thread, so only an array of the batch can tell the sizes apart.
                config.set_num_threads(1)
                step_peaks, _ = _peak_and_growth(run)
                config.set_num_threads(threads)
            peaks.append(step_peaks[len(step_peaks) // 2])
    finally:
        config.set_num_threads(threads)
    # What a typical step allocates (Python's own small objects) does not grow with the batch:
    # an array of the batch would add at least 192 * 4 bytes here. The median, because now and
    # then a step's peak is some kilobytes higher at either size (the interpreter's own
    # bookkeeping), which made a comparison of the largest peaks fail by chance.
    assert peaks[1] - peaks[0] < allowed, peaks


_INFERENCE_MODELS = {
    "attention": _MORE_MODELS["attention"],
    "embedding_lstm": _MORE_MODELS["embedding_lstm"],
    "gru": _MORE_MODELS["gru"],
    "conv1d_max_pool": _MORE_MODELS["conv1d_max_pool"],
}


@pytest.mark.parametrize("make", list(_INFERENCE_MODELS.values()), ids=list(_INFERENCE_MODELS))
def test_a_steady_inference_step_allocates_no_array(make, monkeypatch):
    # An attention layer's (heads, size) biases and the reshapes of its heads, the recurrent
    # layers' inference loops: nothing of the batch's size is allocated.
    monkeypatch.setattr(config, "_parallel_threshold", 0)
    model = make()
    peaks = []
    threads = config.get_num_threads()
    try:
        for batch in (64, 512):
            x, _ = _data(model, batch)
            model.predict_on_batch(x)
            (fn,) = [f for key, f in model._step_fns.items() if key[0] == "predict"]
            plan = next(p for p, _ in fn._plans.values() if p.slots[0].shape[0] == batch)
            run = lambda plan=plan, x=x: plan.run([x])  # noqa: E731
            _, growth = _peak_and_growth(run)
            assert growth < 4096, f"memory grew by {growth} bytes over 30 steps"
            config.set_num_threads(1)  # the peaks without two kernel calls' overlap (above)
            step_peaks, _ = _peak_and_growth(run)
            config.set_num_threads(threads)
            peaks.append(step_peaks[len(step_peaks) // 2])
    finally:
        config.set_num_threads(threads)
    # The step returns its output, a new (batch, 3) float32 array: nothing else may grow.
    assert peaks[1] - peaks[0] < (512 - 64) * 3 * 4 + 1024, peaks


def test_common_subexpressions_are_computed_once():
    t = Variable(np.float32(3.0), trainable=False)
    w = Variable(np.ones(4))

    def step(g):
        power_a = ops.power(0.9, ops.add(t, 1.0))  # the same term twice, as a per-Variable
        power_b = ops.power(0.9, ops.add(t, 1.0))  # optimizer writes it for each Variable
        w.assign_sub(ops.multiply(g, power_a))
        return ops.add(power_b, 0.0)

    f = compiler.function(step)
    out = f(np.ones(4, np.float32))
    assert f.plan_for(np.ones(4, np.float32)).describe().count("power") == 1
    np.testing.assert_allclose(out, 0.9**4, rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), 1 - 0.9**4, rtol=1e-6)


def test_a_node_of_constants_is_computed_while_building_not_by_a_step():
    def step(x):
        scale = ops.divide(ops.cast(ops.add(1, 2), "float32"), 4.0)  # 0.75, from constants
        return ops.multiply(x, scale)

    f = compiler.function(step)
    x = rng.standard_normal(5).astype("float32")
    np.testing.assert_array_equal(f(x), x * np.float32(0.75))
    names = [s.name for s in f.plan_for(x).steps]
    assert names == ["multiply"], names


def test_a_constant_computed_from_the_batch_size_follows_a_new_batch_size():
    def step(x):
        count = ops.cast(ops.shape(x)[0], "float32")  # a constant while tracing
        return ops.multiply(x, ops.divide(1.0, count))

    f = compiler.function(step)
    x = rng.standard_normal((32, 3)).astype("float32")
    for n in (32, 24, 13):  # the third size is re-planned from the first trace
        out = f(x[:n])
        assert all(s.name == "multiply" for s in f.plan_for(x[:n]).steps)
        np.testing.assert_allclose(out, x[:n] / n, rtol=1e-6)
    assert f.replans == 1


@pytest.mark.parametrize("make", [_mlp, _convnet], ids=["mlp", "convnet"])
def test_a_new_batch_size_is_re_planned_with_the_numbers_of_a_fresh_trace(make):
    replanned, fresh = make(), make()
    x, y = _data(replanned, 64)
    for model in (replanned, fresh):
        model.train_on_batch(x[:32], y[:32])
        model.train_on_batch(x[:24], y[:24])  # the second size: traced and compared
    signatures = kernels.compiled_signature_count()
    logs = replanned.train_on_batch(x[:13], y[:13], return_dict=True)
    assert _train_fn(replanned).replans == 1
    assert kernels.compiled_signature_count() == signatures  # no kernel compiled
    _train_fn(fresh)._families.clear()  # the same step traced anew at 13
    fresh_logs = fresh.train_on_batch(x[:13], y[:13], return_dict=True)
    assert _train_fn(fresh).replans == 0
    assert logs == fresh_logs
    for a, b in zip(replanned.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # BatchNormalization saw the true batch of 13
    for a, b in zip(replanned.optimizer.variables, fresh.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The Plans built before from the graph that was re-planned still run at their own size.
    for model in (replanned, fresh):
        model.train_on_batch(x[32:64], y[32:64])
    for a, b in zip(replanned.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class _UnsharedArena(compiler.BufferArena):
    """A new array for every buffer: Plans built with it share nothing."""

    def take(self, key, index, size):
        return np.empty(size, dtype=key[0])


def test_the_plans_of_one_step_share_buffers_with_the_numbers_of_unshared_ones(monkeypatch):
    monkeypatch.setattr(compiler, "BufferArena", _UnsharedArena)
    unshared = _convnet()
    x, y = _data(unshared, 64)
    unshared.train_on_batch(x[:32], y[:32])
    monkeypatch.undo()
    shared = _convnet()
    shared.train_on_batch(x[:32], y[:32])
    for n in (13, 32, 24, 13, 32, 5):  # each size's Plan runs after another size's
        logs = [m.train_on_batch(x[:n], y[:n], return_dict=True) for m in (shared, unshared)]
        assert logs[0] == logs[1], n
    for a, b in zip(shared.get_weights(), unshared.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    def first_input(model):
        return [plan.arrays[plan.input_slots[0]] for plan, _ in _train_fn(model)._plans.values()]

    shared_inputs, unshared_inputs = first_input(shared), first_input(unshared)
    assert len(shared_inputs) == 4
    assert all(np.shares_memory(a, shared_inputs[0]) for a in shared_inputs[1:])
    assert not any(np.shares_memory(a, unshared_inputs[0]) for a in unshared_inputs[1:])


def test_a_step_that_computes_with_the_batch_size_is_traced_for_each_size():
    w = Variable(np.ones(3))

    def step(x):
        n = x.shape[0]
        return ops.sum(ops.matmul(x, w)) / float(n * n - 1)  # not in proportion to n

    f = compiler.function(step)
    for n in (8, 6, 5):
        x = rng.standard_normal((n, 3)).astype("float32")
        np.testing.assert_allclose(f(x), np.sum(x @ np.ones(3)) / (n * n - 1), rtol=1e-5)
    assert f.replans == 0 and f.plan_count == 3

    def proportional(x):
        return ops.sum(ops.matmul(x, w)) / float(x.shape[0])  # a mean: re-planned

    g = compiler.function(proportional)
    for n in (8, 6, 5, 3):
        x = rng.standard_normal((n, 3)).astype("float32")
        np.testing.assert_allclose(g(x), np.sum(x @ np.ones(3)) / n, rtol=1e-5)
    assert g.replans == 2


def test_the_fast_path_of_a_repeated_call_sees_new_weights_and_steps_aside():
    model = _mlp()
    x = rng.standard_normal((1, 20)).astype("float32")
    first = model(x).numpy()
    assert model._fast_call is not None
    np.testing.assert_array_equal(model(x).numpy(), first)
    np.testing.assert_array_equal(model(x, training=False).numpy(), first)
    np.testing.assert_array_equal(model.predict_on_batch(x), first)
    np.testing.assert_array_equal(model.predict_on_batch(x), first)
    assert model._fast_predict is not None

    kernel = model.layers[-1].kernel
    kernel.assign(np.zeros(kernel.shape))  # a replaced value: the bindings are redone
    bias = model.layers[-1].bias.numpy()
    np.testing.assert_allclose(model(x).numpy(), bias[None], atol=0)
    np.testing.assert_allclose(model.predict_on_batch(x), bias[None], atol=0)

    with GradientTape() as tape:  # a recording tape takes the general path
        out = ops.sum(model(x))
    assert tape.gradient(out, model.layers[0].kernel) is not None
    wider = rng.standard_normal((3, 20)).astype("float32")
    assert model(wider).shape == (3, 5)  # another signature: the general path


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_pre_bound_matmul_gives_the_plans_numbers_bit_for_bit(dtype):
    from backend.compiler.lowering import matmul

    r = np.random.default_rng(5)
    b = r.standard_normal((40, 24)).astype(dtype)
    cases = {
        "rows": r.standard_normal((32, 40)).astype(dtype),
        "one row": r.standard_normal((1, 40)).astype(dtype),
        "3-D": r.standard_normal((3, 5, 40)).astype(dtype),
        "transposed": r.standard_normal((40, 32)).astype(dtype).T,  # not C-contiguous
    }
    for name, a in cases.items():
        out = np.full((*a.shape[:-1], 24), np.nan, dtype)
        call = matmul.bind(a, b, out)
        call()
        expected = np.empty_like(out)
        matmul(a, b, expected)  # what a Plan's step computes without binding
        np.testing.assert_array_equal(out, expected, err_msg=name)
        np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-5, atol=1e-5, err_msg=name)
        # The contiguous 2-D products take np.dot (the same BLAS call, parsed faster).
        assert (call.func is np.dot) == (name != "transposed"), name
    ints = r.integers(-5, 5, (4, 40))
    out = np.zeros((4, 24), np.int64)
    call = matmul.bind(ints, b.astype(np.int64), out)
    call()
    np.testing.assert_array_equal(out, ints @ b.astype(np.int64))
    assert call.func is np.matmul
