"""Callback, CallbackList, History, ProgbarLogger and LambdaCallback."""

import doctest
import importlib
import re
import subprocess
import sys

import pytest

from kerasish.callbacks import (
    Callback,
    CallbackList,
    History,
    LambdaCallback,
    ProgbarLogger,
)

HOOKS = [
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
    "on_predict_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
    "on_predict_batch_end",
]  # fmt: skip


class Model:
    stop_training = False


class Recorder(Callback):
    """Records every hook call into a shared list."""

    def __init__(self, name, calls):
        super().__init__()
        self.name, self.calls = name, calls
        for hook in HOOKS:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        def record(*args):
            self.calls.append((self.name, hook, *args))

        return record


def simulate_fit(callback_list, epochs=2, steps=3, val_steps=1, logs_for=None):
    logs_for = logs_for or (lambda epoch: {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            callback_list.on_train_batch_end(batch, {"loss": 1.0 / (batch + 1)})
        callback_list.on_test_begin()
        for batch in range(val_steps):
            callback_list.on_test_batch_begin(batch)
            callback_list.on_test_batch_end(batch, {"loss": 2.0})
        callback_list.on_test_end({"loss": 2.0})
        callback_list.on_epoch_end(epoch, logs_for(epoch))
    callback_list.on_train_end()


def test_every_hook_exists_and_does_nothing_on_the_base_class():
    callback = Callback()
    assert callback.model is None and callback.params is None
    for hook in HOOKS + ["on_batch_begin", "on_batch_end"]:
        args = () if hook.endswith(("_begin", "_end")) and "batch" not in hook else (0,)
        if hook in ("on_epoch_begin", "on_epoch_end"):
            args = (0,)
        assert getattr(callback, hook)(*args, logs={}) is None


def test_callback_list_calls_callbacks_in_order_and_sets_model_and_params():
    calls, model = [], Model()
    a, b = Recorder("a", calls), Recorder("b", calls)
    callback_list = CallbackList([a, b], model=model, verbose=0, epochs=1, steps=2)
    assert a.model is model and b.params == {"verbose": 0, "epochs": 1, "steps": 2}
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    callback_list.on_train_batch_end(0, {"loss": 1.0})
    callback_list.on_epoch_end(0, {"loss": 1.0})
    callback_list.on_predict_batch_end(3, {"outputs": None})
    assert [c[:2] for c in calls] == [
        ("a", "on_train_begin"), ("b", "on_train_begin"), ("a", "on_epoch_begin"),
        ("b", "on_epoch_begin"), ("a", "on_train_batch_end"), ("b", "on_train_batch_end"),
        ("a", "on_epoch_end"), ("b", "on_epoch_end"), ("a", "on_predict_batch_end"),
        ("b", "on_predict_batch_end"),
    ]  # fmt: skip
    assert calls[0] == ("a", "on_train_begin", {})  # logs=None becomes {}
    assert calls[4] == ("a", "on_train_batch_end", 0, {"loss": 1.0})


def test_epoch_logs_are_one_dict_shared_along_the_list():
    class AddKey(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 3.0

    history = History()
    logs = {"loss": 1.0}
    CallbackList([AddKey(), history]).on_epoch_end(0, logs)
    assert history.history == {"loss": [1.0], "extra": [3.0]} and logs["extra"] == 3.0


def test_batch_hooks_go_only_to_callbacks_that_override_them():
    class TrainBatches(Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(batch)

    class Legacy(Callback):  # overrides the Keras 2 name, which the train hook forwards to
        def __init__(self):
            super().__init__()
            self.begun = []

        def on_batch_begin(self, batch, logs=None):
            self.begun.append(batch)

    train, legacy, history = TrainBatches(), Legacy(), History()
    callback_list = CallbackList([history])
    assert not any(callback_list.should_call_batch_hooks(m) for m in ("train", "test", "predict"))
    callback_list.append(train)
    callback_list.append(legacy)
    assert callback_list.should_call_batch_hooks("train")
    assert not callback_list.should_call_batch_hooks("test")
    assert callback_list._batch_hook_callbacks["on_train_batch_end"] == [train]
    assert callback_list._batch_hook_callbacks["on_train_batch_begin"] == [legacy]
    simulate_fit(callback_list, epochs=2, steps=2)
    assert train.batches == [0, 1, 0, 1] and legacy.begun == [0, 1, 0, 1]
    callback_list.on_batch_end(7)  # the Keras 2 name on the list dispatches to the train hook
    assert train.batches[-1] == 7
    with pytest.raises(ValueError, match="Received: mode='fit'"):
        callback_list.should_call_batch_hooks("fit")


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(ValueError, match="Received: callback=<function"):
        CallbackList([lambda: None])


def test_default_callbacks_are_added_once_at_the_end():
    mine = History()
    callback_list = CallbackList([mine], add_history=True, add_progbar=True, verbose=0)
    assert callback_list.callbacks[0] is mine and len(callback_list) == 2
    assert isinstance(callback_list.callbacks[1], ProgbarLogger)
    assert len(CallbackList(add_history=True)) == 1 and len(CallbackList()) == 0
    single = LambdaCallback()
    assert list(CallbackList(single)) == [single]


def test_appended_callback_gets_model_and_params():
    model = Model()
    callback_list = CallbackList(model=model, epochs=3)
    late = History()
    callback_list.append(late)
    assert late.model is model and late.params == {"epochs": 3}


def test_history_records_per_epoch_lists_params_epoch_and_model_history():
    model = Model()
    callback_list = CallbackList(add_history=True, model=model, verbose=0, epochs=3, steps=3)
    simulate_fit(callback_list, epochs=3)
    history = callback_list._history
    assert history.history == {"loss": [1.0, 0.5, 1.0 / 3], "val_loss": [2.0, 2.0, 2.0]}
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}
    assert model.history is history


def test_lambda_callback_hooks():
    calls = []
    callback = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_train_end=lambda logs: calls.append("train_end"),
        on_train_batch_end=lambda batch, logs: calls.append(("batch", batch)),
        on_test_end=lambda logs: calls.append(("test_end", logs["loss"])),
    )
    callback_list = CallbackList([callback])
    assert callback_list.should_call_batch_hooks("train")
    assert not callback_list.should_call_batch_hooks("test")
    simulate_fit(callback_list, epochs=1, steps=2)
    assert calls == [
        "train_begin", ("epoch_begin", 0), ("batch", 0), ("batch", 1), ("test_end", 2.0),
        ("epoch_end", 0, 1.0), "train_end",
    ]  # fmt: skip


def test_lambda_callback_keras2_batch_alias_and_errors():
    seen = []
    callback_list = CallbackList([LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))])
    simulate_fit(callback_list, epochs=1, steps=2)
    assert seen == [0, 1]
    with pytest.raises(ValueError, match="Received: on_epoch_end=3$"):
        LambdaCallback(on_epoch_end=3)
    with pytest.raises(ValueError, match="unknown hook `on_fit_end`.*Received: on_fit_end="):
        LambdaCallback(on_fit_end=print)


# ProgbarLogger


def final_bar_lines(out):
    """What a terminal shows: each line's text after its last carriage return."""
    return [line.split("\r")[-1] for line in out.split("\n") if line.strip()]


def test_progbar_verbose_0_prints_nothing(capsys):
    simulate_fit(CallbackList(add_progbar=True, verbose=0, epochs=2, steps=3))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progbar_verbose_2_prints_one_line_per_epoch_as_keras(capsys):
    def logs_for(epoch):
        return {"loss": 0.123456, "accuracy": 0.9, "val_loss": 0.00001234, "val_accuracy": 1}

    simulate_fit(CallbackList(add_progbar=True, verbose=2, epochs=2, steps=3), logs_for=logs_for)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/2", "Epoch 2/2"]
    for line in lines[1::2]:  # Keras shows the logs sorted by name
        assert re.fullmatch(
            r"3/3 - \d+s - \d+(s|ms|us)/step - accuracy: 0\.9000 - loss: 0\.1235 - "
            r"val_accuracy: 1\.0000 - val_loss: 1\.2340e-05",
            line,
        ), line


def test_progbar_verbose_auto_is_1_and_verbose_1_ends_each_epoch_on_its_logs(capsys):
    callback_list = CallbackList(add_progbar=True, verbose="auto", epochs=2, steps=3)
    assert callback_list._progbar.verbose == 1
    simulate_fit(callback_list, logs_for=lambda epoch: {"loss": 0.5, "val_loss": 0.25 + epoch})
    lines = capsys.readouterr().out.splitlines()  # captured output is not a terminal
    assert lines[0::2] == ["Epoch 1/2", "Epoch 2/2"] and len(lines) == 4
    for epoch, line in enumerate(lines[1::2]):
        assert re.fullmatch(
            rf"3/3 ━{{20}} \d+s \d+(s|ms|us)/step - loss: 0\.5000 - val_loss: {0.25 + epoch:.4f}",
            line,
        ), line


def test_progbar_with_unknown_steps_learns_them_from_the_first_epoch(capsys):
    callback_list = CallbackList(add_progbar=True, verbose=1, epochs=2, steps=None)
    simulate_fit(callback_list, steps=4)
    assert callback_list._progbar.target == 4
    last = final_bar_lines(capsys.readouterr().out)[-1]
    assert last.startswith("4/4 ━")


def test_progbar_when_training_stops_mid_epoch(capsys):
    callback_list = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=10)
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    for batch in range(3):
        callback_list.on_train_batch_end(batch, {"loss": 1.0})
    callback_list.on_epoch_end(0, {"loss": 1.0})
    callback_list.on_train_end()
    # The closing line counts the steps that ran (Keras would claim 10/10), and its bar
    # shows that many: 3 of 10 steps fill 6 of its 20 columns.
    assert re.fullmatch(r"3/10 ━{6} {15}\d+s .*", capsys.readouterr().out.strip())


def test_progbar_for_evaluate_and_predict_outside_fit(capsys):
    callback_list = CallbackList(add_progbar=True, verbose=2, epochs=1, steps=2)
    callback_list.on_test_begin()
    for batch in range(2):
        callback_list.on_test_batch_end(batch, {"loss": 0.5})
    callback_list.on_test_end({"loss": 0.5, "accuracy": 0.75})
    callback_list.on_predict_begin()
    for batch in range(2):
        callback_list.on_predict_batch_end(batch, {"outputs": [1, 2]})
    callback_list.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    step_time = r"\d+(s|ms|us)/step"
    assert re.fullmatch(rf"2/2 - \d+s - {step_time} - accuracy: 0\.7500 - loss: 0\.5000",
                        lines[0]), lines  # fmt: skip
    assert re.fullmatch(rf"2/2 - \d+s - {step_time}", lines[1]), lines
    callback_list = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=2)
    callback_list.on_test_begin()
    callback_list.on_test_batch_end(0, {"loss": 0.5})
    callback_list.on_test_batch_end(1, {"loss": 0.5})
    callback_list.on_test_end({"loss": 0.5})
    assert re.fullmatch(
        rf"2/2 ━{{20}} \d+s {step_time} - loss: 0\.5000", capsys.readouterr().out.strip()
    )


def test_importing_callbacks_does_not_import_tqdm():
    code = "import sys, kerasish.callbacks; print('tqdm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "name",
    [
        "kerasish.callbacks", "kerasish.callbacks.callback", "kerasish.callbacks.history",
        "kerasish.callbacks.progbar", "kerasish.callbacks.early_stopping",
        "kerasish.callbacks.reduce_lr", "kerasish.callbacks.lr_scheduler",
        "kerasish.callbacks.csv_logger", "kerasish.callbacks.terminate_on_nan",
        "kerasish.callbacks.lambda_callback",
    ],
)  # fmt: skip
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
