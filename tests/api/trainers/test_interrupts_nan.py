"""Training on bad numbers and being stopped: NaN/Inf in the data is refused before the first
step, naming the array and the first bad index; TerminateOnNaN stops at the batch whose loss
went non-finite; Ctrl-C stops after the current step with the weights and History of what
completed; an exception in a callback leaves the model usable."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.trainers import data_adapter


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3)])  # fmt: skip
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


@pytest.mark.parametrize(
    "where, bad, expected",
    [
        ("x", np.nan, "`x` contains NaN values; the first is at index [5, 2]"),
        ("x", np.inf, "`x` contains inf values; the first is at index [5, 2]"),
        (
            "sample_weight",
            -np.inf,
            "`sample_weight` contains -inf values; the first is at index [5]",
        ),
        ("val_x", np.nan, "`validation_data x` contains NaN values; the first is at index [5, 2]"),
        ("val_y", np.nan, "`validation_data y` contains NaN values; the first is at index [5]"),
    ],
)
def test_non_finite_training_data_is_refused_naming_the_array_and_first_index(where, bad, expected):
    x, y = _data()
    sw = np.ones(64, "float32")
    vx, vy = x[:16].copy(), y[:16].astype("float32")
    target = {"x": x, "sample_weight": sw, "val_x": vx, "val_y": vy}[where]
    target[(5, 2)[: target.ndim]] = bad
    target[(9, 1)[: target.ndim]] = bad  # a later one is not the one named
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as info:
        model.fit(x, y, sample_weight=sw, validation_data=(vx, vy), epochs=1, verbose=0)
    assert expected in str(info.value)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # refused before any step ran


def test_non_finite_target_and_second_input_name_their_array():
    x, y = _data()
    yf = y.astype("float32")
    yf[7] = np.nan
    with pytest.raises(ValueError, match=r"`y` contains NaN values; the first is at index \[7\]"):
        _model().fit(x, yf, verbose=0)
    a = keras.Input((4,))
    b = keras.Input((2,))
    model = keras.Model([a, b], layers.Dense(1)(layers.Concatenate()([a, b])))
    model.compile("sgd", "mse")
    xb = np.zeros((64, 2), "float32")
    xb[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"`x\[1\]` contains inf values; .* index \[3, 1\]"):
        model.fit([x, xb], np.zeros(64), verbose=0)


def test_finite_check_on_mnist_sized_data_needs_no_temporary_of_its_size():
    x = np.random.default_rng(0).random((60000, 784), dtype=np.float32)
    tracemalloc.start()
    data_adapter.check_finite(x, "x")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20, peak  # np.isfinite(x).all() would take 47 MB
    x[59999, 783] = np.nan
    with pytest.raises(ValueError, match=r"index \[59999, 783\]"):
        data_adapter.check_finite(x, "x")
    huge = np.full((10, 3), 3e38, "float32")  # the sum overflows; the values are finite
    data_adapter.check_finite(huge, "x")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64"])
def test_the_quick_finite_pass_misses_no_nan_or_inf_at_any_position(dtype):
    rng = np.random.default_rng(1)
    for size in (1, 7, 8, 9, 31, 33, 100, 25088):
        x = rng.standard_normal(size).astype(dtype)
        assert data_adapter.surely_finite(x)
        for position in {0, 1 % size, size // 2, size - 2 if size > 1 else 0, size - 1}:
            for value in (np.nan, np.inf, -np.inf):
                bad = x.copy()
                bad[position] = value
                assert not data_adapter.surely_finite(bad), (size, position, value)
                with pytest.raises(ValueError, match=rf"index \[{position}\]"):
                    data_adapter.check_finite(bad, "x")
    # Not contiguous (every other column), and huge finite values (the quick pass overflows
    # silently and the exact search finds nothing).
    x = rng.standard_normal((6, 8)).astype(dtype)
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"index \[4, 1\]"):
        data_adapter.check_finite(x[:, ::2], "x")
    for column, value in ((3, np.inf), (1, -np.inf)):
        x = rng.standard_normal((6, 8)).astype(dtype)
        x[2, 2 * column] = value
        assert not data_adapter.surely_finite(x[:, ::2])
        with pytest.raises(ValueError, match=rf"index \[2, {column}\]"):
            data_adapter.check_finite(x[:, ::2], "x")
    huge = np.full((3, 5), np.finfo(dtype).max / 2, dtype)
    data_adapter.check_finite(huge, "x")
    data_adapter.check_finite(huge.T, "x")
    data_adapter.check_finite(huge[:, ::2], "x")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_whose_squares_overflow_are_finite_input(dtype):
    # The quick pass squares the values: past the square root of the largest float
    # (1.8e19 in float32) it overflows, and only the exact search may decide.
    root = float(np.sqrt(np.finfo(dtype).max))
    x = np.zeros((32, 784), dtype)
    x[31, 783] = root * 1.01
    x[0, 0] = -root * 1.01
    assert np.isfinite(x).all()
    assert not data_adapter.surely_finite(x)  # the dot overflowed
    data_adapter.check_finite(x, "x")
    x[20, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN values; the first is at index \[20, 5\]"):
        data_adapter.check_finite(x, "x")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_terminate_on_nan_stops_at_the_batch_whose_loss_went_non_finite():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e18), loss="mse")
    x, _ = _data(256)
    y = np.full((256, 1), 1e3, "float32")
    losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                        callbacks=[record, keras.callbacks.TerminateOnNaN()])  # fmt: skip
    first_bad = next(i for i, loss in enumerate(losses) if not np.isfinite(loss))
    assert first_bad < 31  # the loss blows up within the first epoch
    assert len(losses) == first_bad + 1  # no batch ran after it
    assert len(history.history["loss"]) == 1


class _Recorder(keras.callbacks.Callback):
    """Keeps the weights after each completed step; raises `error` at (epoch, batch)."""

    def __init__(self, at, error):
        super().__init__()
        self.at, self.error = at, error
        self.epoch, self.steps, self.ended, self.weights = 0, 0, False, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.weights = [w.copy() for w in self.model.get_weights()]
        if (self.epoch, batch) == self.at:
            raise self.error

    def on_train_end(self, logs=None):
        self.ended = True


def test_keyboard_interrupt_in_a_callback_keeps_the_last_step_and_the_history():
    x, y = _data(64)
    model = _model()
    recorder = _Recorder((1, 2), KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[recorder])
    assert recorder.ended  # on_train_end ran
    assert recorder.steps == 4 + 3
    for a, b in zip(recorder.weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(model.history.history["loss"]) == 1  # the one completed epoch
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)  # the next fit works
    assert model.evaluate(x, y, verbose=0) < before
    assert len(model.history.history["loss"]) == 3


def test_an_exception_in_a_callback_leaves_the_model_usable():
    x, y = _data(64)
    model = _model()
    with pytest.raises(RuntimeError, match="user callback failed"):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                  callbacks=[_Recorder((0, 1), RuntimeError("user callback failed"))])  # fmt: skip
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.evaluate(x, y, verbose=0) < before
    assert model.predict(x, verbose=0).shape == (64, 3)


_SIGINT_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    import kerasish as keras
    from kerasish import layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), layers.Dense(64, activation="relu"),
                              layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
    x = np.random.default_rng(0).normal(size=(512, 32)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, 512)
    state = {"steps": 0, "ended": False, "weights": None}

    class Watch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if state["steps"] == 20 and sys.argv[1] == "self":
                os.kill(os.getpid(), 2)  # SIGINT arrives before this step runs
        def on_train_batch_end(self, batch, logs=None):
            state["steps"] += 1
            state["weights"] = [w.copy() for w in self.model.get_weights()]
            if state["steps"] == 20:
                print("ready", flush=True)
            time.sleep(0.002)
        def on_train_end(self, logs=None):
            state["ended"] = True

    try:
        model.fit(x, y, batch_size=8, epochs=1000, verbose=0, callbacks=[Watch()])
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    same = all(np.array_equal(a, b) for a, b in zip(state["weights"], model.get_weights()))
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # usable afterwards
    print(json.dumps({"outcome": outcome, "steps": state["steps"], "ended": state["ended"],
                      "same_weights": same, "epochs": len(model.history.history["loss"])}))
    """
)


def _run_child(mode):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", _SIGINT_CHILD, mode], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    if mode == "parent":
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


def test_sigint_during_a_step_lets_the_step_finish_then_stops():
    result, err = _run_child("self")
    assert result["outcome"] == "interrupted"
    assert result["steps"] == 21  # the step the signal came before still ran
    assert result["ended"] and result["same_weights"]
    assert "training stops after the current step" in err


def test_sigint_from_another_process_stops_fit_cleanly():
    result, _ = _run_child("parent")
    assert result["outcome"] == "interrupted"
    assert result["steps"] >= 20 and result["ended"] and result["same_weights"]
    assert result["epochs"] == 1  # the next fit's History


def _nan_model(body, zero_hidden=False):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    init = "zeros" if zero_hidden else "glorot_uniform"
    h = layers.Dense(8, kernel_initializer=init, name="hidden")(inp)
    h = layers.Lambda(body, name="suspect")(h)
    model = keras.Model(inp, layers.Dense(1, name="head")(h), name="net")
    model.compile("sgd", "mse")
    return model


@pytest.fixture
def nan_checks():
    keras.config.enable_nan_checks()
    yield
    keras.config.disable_nan_checks()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_checks_name_the_op_layer_and_step_of_a_forward_nan(nan_checks):
    model = _nan_model(lambda t: keras.ops.log(t))  # log of negative values: NaN
    x, _ = _data(64)
    with pytest.raises(FloatingPointError) as info:
        model.fit(x, np.zeros((64, 1)), batch_size=32, verbose=0)
    message = str(info.value)
    assert message.startswith("Epoch 1, batch 0: NaN check: the first NaN came from op 'log'")
    assert "in layer 'net/suspect'" in message
    assert info.value.op == "log" and info.value.origin == "net/suspect"


@pytest.mark.filterwarnings("ignore:(invalid value|divide by zero):RuntimeWarning")
def test_nan_checks_find_a_gradient_that_turns_non_finite_while_the_loss_is_finite(nan_checks):
    # sqrt(t * t) at t = 0 is 0 (finite), but its gradient there is 0 / 0.
    model = _nan_model(lambda t: keras.ops.sqrt(t * t), zero_hidden=True)
    x, _ = _data(64)
    assert np.isfinite(model.predict(x, verbose=0)).all()
    with pytest.raises(FloatingPointError) as info:
        model.fit(x, np.ones((64, 1)), batch_size=32, verbose=0)
    assert "in the gradient (backward pass) of layer 'net/suspect'" in str(info.value)
    assert info.value.origin == "gradient of net/suspect"


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_checks_are_off_by_default_and_can_be_turned_off():
    assert not keras.config.nan_checks_enabled()
    model = _nan_model(lambda t: keras.ops.log(t))
    x, _ = _data(64)
    history = model.fit(x, np.zeros((64, 1)), batch_size=32, verbose=0)  # no check, no error
    assert np.isnan(history.history["loss"][0])
    keras.config.enable_nan_checks()
    keras.config.disable_nan_checks()
    model.fit(x, np.zeros((64, 1)), batch_size=32, verbose=0)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_checks_cover_eager_steps_too(nan_checks):
    model = _nan_model(lambda t: keras.ops.log(t))
    model.compile("sgd", "mse", run_eagerly=True)
    x, _ = _data(64)
    with pytest.raises(FloatingPointError, match="from op 'log' in layer 'net/suspect'"):
        model.fit(x, np.zeros((64, 1)), batch_size=32, verbose=0)


def test_non_finite_values_in_a_generator_batch_name_the_batch():
    x, y = _data(64)

    def batches():
        for i in range(4):
            xb = x[i * 16 : (i + 1) * 16].copy()
            if i == 2:
                xb[3, 1] = np.nan
            yield xb, y[i * 16 : (i + 1) * 16]

    with pytest.raises(ValueError, match=r"`x of batch 2 from the generator .* index \[3, 1\]"):
        _model().fit(batches(), epochs=1, verbose=0)
