"""What a small `predict` call does: a repeated one traces nothing, builds no Plan and
allocates nothing but its output; the short path it takes gives what the general path gives,
and every argument that asks for more (callbacks, `verbose`, another batch size, `steps`,
other input structures, a profile) still gets it."""

import tracemalloc

import numpy as np
import pytest

import kerasish as keras
from backend import compiler
from kerasish import layers

rng = np.random.default_rng(0)


def _mlp(width=784):
    model = keras.Sequential(
        [keras.Input((width,)), layers.Dense(16, activation="relu"), layers.Dense(3)]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def _reference(model, x):
    """The model's outputs computed with numpy from its weights."""
    k1, b1, k2, b2 = model.get_weights()
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def _forbid_tracing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a repeated predict traced or built a Plan")

    monkeypatch.setattr(compiler, "trace", refuse)
    monkeypatch.setattr(compiler, "build_plan", refuse)


def test_a_repeated_predict_traces_nothing_and_allocates_only_its_output(monkeypatch):
    model = _mlp()
    x = rng.standard_normal((32, 784)).astype(np.float32)  # 100 KB: a copy of it would show
    first = model.predict(x, verbose=0)
    model.predict(x, verbose=0)
    plans = {key: fn.plan_count for key, fn in model._step_fns.items()}
    _forbid_tracing(monkeypatch)
    tracemalloc.start()
    try:
        for _ in range(20):  # free lists filled
            model.predict(x, verbose=0)
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = model.predict(x, verbose=0)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert {key: fn.plan_count for key, fn in model._step_fns.items()} == plans
    np.testing.assert_array_equal(out, first)
    # The output (32 x 3 float32 = 384 bytes) and a few small Python objects; the general
    # path's batch list, callback list and concatenated copy came to about 3.9 KB.
    assert peak < out.nbytes + 1500, peak


def test_a_repeated_predict_returns_a_new_array_each_call():
    model = _mlp(4)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    a = model.predict(x, verbose=0)
    b = model.predict(x, verbose=0)
    assert a is not b and not np.shares_memory(a, b)
    a[:] = 0.0
    np.testing.assert_allclose(model.predict(x, verbose=0), b, rtol=0, atol=0)
    np.testing.assert_allclose(b, _reference(model, x), rtol=1e-5, atol=1e-6)


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_predict_begin(self, logs=None):
        self.seen.append("begin")

    def on_predict_batch_end(self, batch, logs=None):
        self.seen.append(("batch", batch, logs["outputs"].shape))

    def on_predict_end(self, logs=None):
        self.seen.append("end")


def test_callbacks_and_verbose_still_run_after_the_short_path_was_taken(capsys):
    model = _mlp(4)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.predict(x, verbose=0)
    recorder = _Recorder()
    np.testing.assert_array_equal(model.predict(x, verbose=0, callbacks=[recorder]), expected)
    assert recorder.seen == ["begin", ("batch", 0, (8, 3)), "end"]
    capsys.readouterr()
    np.testing.assert_array_equal(model.predict(x, verbose=1), expected)
    assert "1/1" in capsys.readouterr().out


def test_other_batchings_and_steps_give_what_the_general_path_gives():
    model = _mlp(4)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    expected = _reference(model, x)
    model.predict(x[:32], verbose=0)
    model.predict(x[:32], verbose=0)
    # The last batch is short; one batch of 40; batches of 8; a limit of steps.
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    got = model.predict(x, batch_size=40, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    got = model.predict(x[:32], batch_size=8, verbose=0)
    np.testing.assert_allclose(got, expected[:32], rtol=1e-5, atol=1e-6)
    assert model.predict(x, steps=1, verbose=0).shape == (32, 3)
    assert model.predict(x[:32], steps=1, verbose=0).shape == (32, 3)
    assert model.predict(x[:32], steps=5, batch_size=64, verbose=0).shape == (32, 3)
    # A generator of batches, and a float64 array (cast by the general path).
    batches = (x[i : i + 32] for i in (0, 32))
    got = model.predict(batches, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    got = model.predict(x[:32].astype(np.float64), verbose=0)
    np.testing.assert_allclose(got, expected[:32], rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_refused_after_the_short_path_was_taken():
    model = _mlp(4)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    model.predict(x, verbose=0)
    model.predict(x, verbose=0)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"`x` contains NaN values; the first is at index \[3, 1\]"
    ):
        model.predict(bad, verbose=0)
    for value, shown in ((np.inf, "inf"), (-np.inf, "-inf")):
        bad = x.copy()
        bad[7, 3] = value
        with pytest.raises(ValueError, match=rf"contains {shown} values; .* index \[7, 3\]"):
            model.predict(bad, verbose=0)
    # Finite values whose squares overflow float32 are accepted, as the general path does.
    huge = x.copy()
    huge[2, 0] = 3e19
    np.testing.assert_array_equal(
        model.predict(huge, verbose=0), model.predict(huge, verbose=0, callbacks=[])
    )
    with pytest.raises(ValueError, match="batch_size=0"):
        model.predict(x, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="steps=0"):
        model.predict(x, steps=0, verbose=0)
    with pytest.raises(ValueError, match="verbose=3"):
        model.predict(x, verbose=3)
    with pytest.raises(ValueError, match="verbose=0.0"):
        model.predict(x, verbose=0.0)
    with pytest.raises(TypeError, match="callbacks"):
        model.predict(x, verbose=0, callbacks=0)
    with pytest.raises(MemoryError, match="batch_size=10000000000000"):
        model.predict(x, batch_size=10**13, verbose=0)


def test_lists_and_dicts_of_inputs_give_the_models_outputs():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    out = layers.Dense(2)(layers.Concatenate()([a, b]))
    model = keras.Model([a, b], [out, layers.Dense(1)(out)])
    xa = rng.standard_normal((8, 3)).astype(np.float32)
    xb = rng.standard_normal((8, 2)).astype(np.float32)
    k, bias, k2, bias2 = model.get_weights()
    first = np.concatenate([xa, xb], axis=1) @ k + bias
    for _ in range(3):
        for inputs in ([xa, xb], {"b": xb, "a": xa}):
            got = model.predict(inputs, verbose=0)
            assert isinstance(got, list) and len(got) == 2
            np.testing.assert_allclose(got[0], first, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(got[1], first @ k2 + bias2, rtol=1e-5, atol=1e-5)


def test_a_model_set_to_run_eagerly_runs_its_predict_step():
    class Counting(keras.Sequential):
        calls = 0

        def predict_step(self, data):
            Counting.calls += 1
            return super().predict_step(data)

    model = Counting([keras.Input((4,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((8, 4)).astype(np.float32)
    model.predict(x, verbose=0)
    model.predict(x, verbose=0)
    traced = Counting.calls  # traced once: the compiled step does not call it again
    model.predict(x, verbose=0)
    assert Counting.calls == traced
    model.run_eagerly = True
    model.predict(x, verbose=0)
    assert Counting.calls == traced + 1


def test_a_new_compile_drops_the_short_path():
    model = _mlp(4)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    model.predict(x, verbose=0)
    model.predict(x, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    model.layers[0].kernel.assign(np.zeros((4, 16), np.float32))
    np.testing.assert_allclose(model.predict(x, verbose=0), _reference(model, x), atol=1e-6)


def _classifier():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(4)])
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _expected_logs(model, x, y, sample_weight=None):
    """The mean (weighted) crossentropy and the accuracy (not weighted: a `metrics` entry),
    from the weights with numpy."""
    kernel, bias = model.get_weights()
    logits = (x @ kernel + bias).astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = -log_p[np.arange(len(y)), y]
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    return (losses * w).sum() / len(y), np.mean(logits.argmax(axis=1) == y)


def test_a_repeated_evaluate_resets_its_metrics_and_traces_nothing(monkeypatch):
    model = _classifier()
    x = rng.standard_normal((32, 6)).astype(np.float32)
    labels = [rng.integers(0, 4, 32).astype(np.int32) for _ in range(3)]
    model.evaluate(x, labels[0], verbose=0)
    model.evaluate(x, labels[0], verbose=0)
    _forbid_tracing(monkeypatch)
    for y in labels:  # metrics that kept the last call's state would mix the label sets
        loss, accuracy = model.evaluate(x, y, verbose=0)
        want_loss, want_accuracy = _expected_logs(model, x, y)
        assert loss == pytest.approx(want_loss, rel=1e-5)
        assert accuracy == pytest.approx(want_accuracy, abs=1e-7)
    logs = model.evaluate(x, labels[1], verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert logs["loss"] == pytest.approx(_expected_logs(model, x, labels[1])[0], rel=1e-5)


def test_evaluate_with_callbacks_weights_or_other_batches_after_the_short_path():
    model = _classifier()
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 4, 40).astype(np.int32)
    model.evaluate(x[:32], y[:32], verbose=0)
    model.evaluate(x[:32], y[:32], verbose=0)
    seen = []

    class Hooks(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    loss, _ = model.evaluate(x[:32], y[:32], verbose=0, callbacks=[Hooks()])
    assert seen == [0] and loss == pytest.approx(_expected_logs(model, x[:32], y[:32])[0], 1e-5)
    weights = rng.random(32).astype(np.float32)
    loss, accuracy = model.evaluate(x[:32], y[:32], sample_weight=weights, verbose=0)
    want = _expected_logs(model, x[:32], y[:32], weights)
    assert loss == pytest.approx(want[0], rel=1e-5)
    assert accuracy == pytest.approx(want[1], abs=1e-7)
    # 40 samples: a batch of 32 and a short one of 8; the metrics run over both.
    loss, accuracy = model.evaluate(x, y, verbose=0)
    want = _expected_logs(model, x, y)
    assert loss == pytest.approx(want[0], rel=1e-5)
    assert accuracy == pytest.approx(want[1], abs=1e-7)
    bad = y[:32].astype(np.float32)
    bad[5] = np.nan
    with pytest.raises(ValueError, match=r"`y` contains NaN"):
        model.evaluate(x[:32], bad, verbose=0)
    with pytest.raises(ValueError, match="batch_size=0"):
        model.evaluate(x[:32], y[:32], batch_size=0, verbose=0)


def test_a_replaced_weight_rebinds_only_the_steps_that_read_it(monkeypatch):
    from backend.compiler import runners

    model = _mlp()  # a first kernel of 784 x 16: rebound; a bias of 3: copied in
    x = rng.standard_normal((1, 784)).astype(np.float32)
    model(x)
    model(x)
    bound = []
    original = runners._bound_call
    monkeypatch.setattr(
        runners, "_bound_call", lambda step, arrays: bound.append(step) or original(step, arrays)
    )
    plan = model._fast_call.plan
    kernel = model.layers[0].kernel
    kernel.assign(rng.standard_normal((784, 16)).astype(np.float32))
    np.testing.assert_allclose(model(x).numpy(), _reference(model, x), rtol=1e-5, atol=1e-5)
    assert 0 < len(bound) < len(plan.steps)
    slot = next(s for s, v in plan.var_slots if v is kernel)
    assert all(slot in step.args for step in bound)
    bound.clear()
    bias = model.layers[1].bias
    bound_array = bias._value
    bias.assign(np.full(3, 2.0, np.float32))
    np.testing.assert_allclose(model(x).numpy(), _reference(model, x), rtol=1e-5, atol=1e-5)
    assert bound == [] and bias._value is bound_array
    np.testing.assert_array_equal(bias.numpy(), np.full(3, 2.0, np.float32))
