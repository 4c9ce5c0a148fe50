"""EarlyStopping, ReduceLROnPlateau, LearningRateScheduler and TerminateOnNaN in a simulated fit."""

import math

import numpy as np
import pytest

from kerasish import callbacks as callbacks_module
from kerasish.callbacks import (
    CallbackList,
    EarlyStopping,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """The model interface callbacks use; its weights record the epoch that trained them."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self._weights = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        assert [w.shape for w in weights] == [w.shape for w in self._weights]
        self._weights = [np.array(w, np.float32) for w in weights]

    def train_epoch(self, epoch):
        self._weights = [np.full_like(w, epoch) for w in self._weights]

    def weights_epoch(self):
        return float(self._weights[0][0, 0])


def fit(model, callbacks, epoch_logs, steps=2, batch_losses=None):
    """A training loop as `fit` runs one; returns the History and the learning rate per epoch."""
    callback_list = CallbackList(
        callbacks, add_history=True, model=model, verbose=0, epochs=len(epoch_logs), steps=steps
    )
    model.stop_training = False
    learning_rates = []
    callback_list.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        learning_rates.append(model.optimizer.learning_rate)
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            loss = batch_losses[epoch][batch] if batch_losses else 1.0
            callback_list.on_train_batch_end(batch, {"loss": loss})
            if model.stop_training:
                break
        model.train_epoch(epoch)
        callback_list.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    callback_list.on_train_end()
    return callback_list._history, learning_rates


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# EarlyStopping


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    model = FakeModel()
    stopper = EarlyStopping(patience=2)
    history, _ = fit(model, [stopper], val_losses(0.9, 0.5, 0.6, 0.55, 0.4, 0.3))
    # best at epoch 1; epochs 2 and 3 do not improve -> stop at epoch 3
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1 and stopper.best == 0.5
    assert model.weights_epoch() == 3  # restore_best_weights is off


def test_early_stopping_restores_best_weights_when_it_stops():
    model = FakeModel()
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    fit(model, [stopper], val_losses(0.9, 0.5, 0.7, 0.2))
    assert stopper.stopped_epoch == 2
    assert model.weights_epoch() == 1


def test_early_stopping_restores_best_weights_without_stopping():
    model = FakeModel()
    stopper = EarlyStopping(patience=5, restore_best_weights=True)
    history, _ = fit(model, [stopper], val_losses(0.9, 0.3, 0.7, 0.6))
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 0
    assert model.weights_epoch() == 1


def test_early_stopping_min_delta_and_max_mode():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=1)
    logs = [{"val_accuracy": a} for a in (0.5, 0.54, 0.56, 0.62, 0.63)]
    history, _ = fit(model, [stopper], logs)
    # 0.54 is not > 0.5 + 0.05 -> wait 1 >= patience 1 -> stop at epoch 1
    assert history.epoch == [0, 1]
    stopper = EarlyStopping(monitor="val_accuracy", min_delta=-0.05, patience=1)  # abs taken
    assert stopper.min_delta == 0.05


@pytest.mark.parametrize(
    "monitor, mode, expected",
    [
        ("val_loss", "auto", "min"), ("loss", "auto", "min"), ("val_accuracy", "auto", "max"),
        ("sparse_categorical_accuracy", "auto", "max"), ("val_auc", "auto", "max"),
        ("val_mean_squared_error", "auto", "min"), ("val_mae", "auto", "min"),
        ("val_loss", "max", "max"), ("val_accuracy", "min", "min"),
    ],
)  # fmt: skip
def test_early_stopping_direction(monitor, mode, expected):
    stopper = EarlyStopping(monitor=monitor, mode=mode)
    stopper.set_model(FakeModel())
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {monitor: 1.0})
    assert stopper._direction == expected


def test_early_stopping_direction_from_the_models_metric_objects():
    class Metric:
        name, _direction = "score", "up"

    model = FakeModel()
    model.metrics = [Metric()]
    stopper = EarlyStopping(monitor="val_score")
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"val_score": 1.0})
    assert stopper._direction == "max"


def test_early_stopping_unknown_direction_in_auto_mode_is_an_error():
    stopper = EarlyStopping(monitor="val_score")
    stopper.set_model(FakeModel())
    with pytest.raises(ValueError, match="mode='max'"):
        stopper.on_epoch_end(0, {"val_score": 1.0})


def test_early_stopping_missing_monitor_warns_and_trains_on():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="val_loss.*Available metrics are: loss"):
        history, _ = fit(model, [stopper], [{"loss": 1.0}] * 3)
    assert history.epoch == [0, 1, 2] and not model.stop_training


def test_early_stopping_baseline():
    # Improving on the best but never beating the baseline still uses up the patience.
    model = FakeModel()
    stopper = EarlyStopping(patience=2, baseline=0.5)
    history, _ = fit(model, [stopper], val_losses(0.9, 0.8, 0.7, 0.6, 0.4))
    assert history.epoch == [0, 1]
    # Beating the baseline restarts the patience.
    stopper = EarlyStopping(patience=1, baseline=0.5)
    history, _ = fit(FakeModel(), [stopper], val_losses(0.4, 0.3, 0.35, 0.2))
    assert history.epoch == [0, 1, 2]


def test_early_stopping_start_from_epoch():
    model = FakeModel()
    stopper = EarlyStopping(patience=0, start_from_epoch=2, restore_best_weights=True)
    history, _ = fit(model, [stopper], val_losses(0.1, 0.2, 0.9, 0.8, 0.85, 0.7))
    # epochs 0 and 1 are ignored: best 0.9 at 2, 0.8 at 3, 0.85 at 4 -> stop at 4
    assert history.epoch == [0, 1, 2, 3, 4]
    assert stopper.best_epoch == 3 and model.weights_epoch() == 3


def test_early_stopping_resets_between_fits_and_prints_when_verbose(capsys):
    model = FakeModel()
    stopper = EarlyStopping(patience=0, verbose=1, restore_best_weights=True)
    fit(model, [stopper], val_losses(0.5, 0.6))
    assert capsys.readouterr().out == (
        "Epoch 2: early stopping\nRestoring model weights from the end of the best epoch: 1.\n"
    )
    history, _ = fit(model, [stopper], val_losses(0.9, 0.8, 0.7))
    assert history.epoch == [0, 1, 2] and stopper.best == 0.7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"patience": -1}, "Received: patience=-1"),
        ({"patience": 1.5}, "Received: patience=1.5"),
        ({"mode": "up"}, "Received: mode='up'"),
        ({"min_delta": "x"}, "Received: min_delta='x'"),
        ({"baseline": float("nan")}, "Received: baseline=nan"),
        ({"start_from_epoch": -2}, "Received: start_from_epoch=-2"),
        ({"verbose": -1}, "Received: verbose=-1"),
        ({"monitor": ""}, "Received: monitor=''"),
        ({"restore_best_weights": "yes"}, "Received: restore_best_weights='yes'"),
    ],
)
def test_early_stopping_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(") + "$"):
        EarlyStopping(**kwargs)


# ReduceLROnPlateau


def test_reduce_lr_reduces_after_patience_and_respects_cooldown_and_min_lr():
    model = FakeModel(learning_rate=1.0)
    reduce_lr = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.2)
    history, lrs = fit(model, [reduce_lr], val_losses(1.0, *[1.0] * 11))
    # epoch 0 sets best; 1, 2 wait -> reduce at the end of 2; 3 is cooldown; 4 ends the
    # cooldown and, as in Keras, already counts; 5 waits -> reduce at 5; 6 cooldown; 7, 8 ->
    # reduce at 8 (0.25 * 0.5 floored to 0.2); 9 cooldown; 10, 11 wait but lr is at min_lr.
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
    # the logged rate is the one the epoch trained with
    assert history.history["learning_rate"] == lrs
    assert model.optimizer.learning_rate == 0.2


def test_reduce_lr_cooldown_counts_as_keras_does():
    # Keras decrements the cooldown before counting, so cooldown=1 waits as long as 0.
    for cooldown, expected in [(0, [1, 1, 0.5, 0.25, 0.125]), (1, [1, 1, 0.5, 0.25, 0.125]),
                               (2, [1, 1, 0.5, 0.5, 0.25])]:  # fmt: skip
        model = FakeModel(learning_rate=1.0)
        reduce_lr = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=cooldown)
        _, lrs = fit(model, [reduce_lr], val_losses(*[1.0] * 5))
        assert lrs == expected, cooldown


def test_reduce_lr_improvement_resets_the_wait():
    model = FakeModel(learning_rate=1.0)
    reduce_lr = ReduceLROnPlateau(factor=0.1, patience=2, min_delta=0.01)
    _, lrs = fit(model, [reduce_lr], val_losses(1.0, 1.0, 0.9, 0.895, 0.89, 0.5))
    # 0.895 and 0.89 are not 0.01 better than 0.9 -> reduce at the end of epoch 4
    assert lrs == [1.0, 1.0, 1.0, 1.0, 1.0, pytest.approx(0.1)]


def test_reduce_lr_max_mode_for_accuracy_and_patience_zero():
    model = FakeModel(learning_rate=1.0)
    reduce_lr = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=0)
    logs = [{"val_accuracy": a} for a in (0.5, 0.6, 0.55, 0.7)]
    _, lrs = fit(model, [reduce_lr], logs)
    assert lrs == [1.0, 1.0, 1.0, 0.5]


def test_reduce_lr_verbose_and_missing_monitor(capsys):
    model = FakeModel(learning_rate=1.0)
    fit(model, [ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)], val_losses(1.0, 1.0))
    assert (
        capsys.readouterr().out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.5.\n"
    )
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        fit(model, [ReduceLROnPlateau(patience=0)], [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == 0.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"factor": 1.0}, "factor >= 1.0.*Received: factor=1.0"),
        ({"factor": 2}, "Received: factor=2"),
        ({"factor": -0.5}, "Received: factor=-0.5"),
        ({"patience": -1}, "Received: patience=-1"),
        ({"cooldown": -1}, "Received: cooldown=-1"),
        ({"min_lr": -1e-3}, "Received: min_lr=-0.001"),
        ({"mode": "best"}, "Received: mode='best'"),
    ],
)
def test_reduce_lr_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message + "$"):
        ReduceLROnPlateau(**kwargs)


# LearningRateScheduler


def test_scheduler_sets_the_rate_at_each_epoch_begin():
    model = FakeModel(learning_rate=0.1)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5 if epoch >= 1 else lr

    history, lrs = fit(model, [LearningRateScheduler(schedule)], val_losses(1, 1, 1))
    assert seen == [(0, 0.1), (1, 0.1), (2, 0.05)]
    assert lrs == [0.1, 0.05, 0.025]
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]


def test_scheduler_accepts_a_one_argument_schedule_and_numpy_floats(capsys):
    model = FakeModel()
    _, lrs = fit(model, [LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))], val_losses(1, 1))
    assert lrs == [0.01, 0.02]
    fit(model, [LearningRateScheduler(lambda e, lr: np.float32(0.5), verbose=1)], val_losses(1))
    assert model.optimizer.learning_rate == 0.5 and isinstance(model.optimizer.learning_rate, float)
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in capsys.readouterr().out


def test_scheduler_errors():
    with pytest.raises(ValueError, match="must be a float. Received: schedule\\(0, 0.1\\) = 1$"):
        fit(FakeModel(), [LearningRateScheduler(lambda epoch, lr: 1)], val_losses(1))
    with pytest.raises(ValueError, match="Received: schedule=0.1$"):
        LearningRateScheduler(0.1)
    model = FakeModel()
    model.optimizer = object()
    with pytest.raises(ValueError, match="learning_rate"):
        fit(model, [LearningRateScheduler(lambda epoch, lr: 0.1)], val_losses(1))


def test_a_schedules_own_type_error_is_not_swallowed():
    def schedule(epoch, lr):
        raise TypeError("bug in the schedule")

    with pytest.raises(TypeError, match="bug in the schedule"):
        fit(FakeModel(), [LearningRateScheduler(schedule)], val_losses(1))


# TerminateOnNaN


@pytest.mark.parametrize("bad", [float("nan"), math.inf, -np.inf, np.float32("nan")])
def test_terminate_on_nan_stops_at_the_bad_batch(bad, capsys):
    model = FakeModel()
    batch_losses = [[1.0, 0.9, 0.8], [0.7, bad, 0.5], [0.4, 0.3, 0.2]]
    history, _ = fit(model, [TerminateOnNaN()], val_losses(1, 1, 1), 3, batch_losses)
    assert model.stop_training and history.epoch == [0, 1]
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"


def test_terminate_on_nan_ignores_finite_and_missing_losses():
    model = FakeModel()
    callback = TerminateOnNaN()
    callback.set_model(model)
    callback.on_train_batch_end(0, {"accuracy": float("nan")})
    callback.on_train_batch_end(1, None)
    callback.on_train_batch_end(2, {"loss": np.float32(3.5)})
    assert model.stop_training is False


def test_get():
    stopper = EarlyStopping()
    assert callbacks_module.get(stopper) is stopper and callbacks_module.get(None) is None
    assert isinstance(callbacks_module.get("reduce_lr_on_plateau"), ReduceLROnPlateau)
    config = {"class_name": "ReduceLROnPlateau", "config": {"factor": 0.5}}
    assert callbacks_module.get(config).factor == 0.5
    with pytest.raises(ValueError, match="Received: identifier='nope'"):
        callbacks_module.get("nope")
