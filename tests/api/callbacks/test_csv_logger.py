"""CSVLogger: exact file contents in a simulated fit."""

import numpy as np
import pytest

from kerasish.callbacks import CallbackList, CSVLogger, ReduceLROnPlateau


class Model:
    stop_training = False

    def __init__(self):
        self.optimizer = type("Optimizer", (), {"learning_rate": 0.5})()


def fit(callbacks, epoch_logs, model=None):
    callback_list = CallbackList(callbacks, model=model or Model(), epochs=len(epoch_logs))
    callback_list.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        callback_list.on_epoch_end(epoch, dict(logs))
    callback_list.on_train_end()


def test_header_then_one_sorted_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logs = [
        {"val_loss": 0.75, "loss": 0.5, "accuracy": 0.25, "val_accuracy": 0.125},
        {"val_loss": 0.5, "loss": 0.25, "accuracy": 0.5, "val_accuracy": 0.375},
    ]
    fit([CSVLogger(path)], logs)
    assert path.read_text() == (
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.25,0.5,0.125,0.75\n1,0.5,0.25,0.375,0.5\n"
    )


def test_rows_are_flushed_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(str(path))
    callback_list = CallbackList([logger])
    callback_list.on_train_begin()
    callback_list.on_epoch_end(0, {"loss": 1.5, "val_loss": 2.0})
    assert path.read_text() == "epoch,loss,val_loss\n0,1.5,2.0\n"  # before training ends
    callback_list.on_train_end()
    assert logger.csv_file.closed


def test_without_validation_keys_val_columns_are_added_as_keras_does(tmp_path):
    path = tmp_path / "log.csv"
    fit([CSVLogger(path)], [{"loss": 1.0}, {"loss": 0.5, "val_loss": 0.75}])
    assert path.read_text() == "epoch,loss,val_loss\n0,1.0,NA\n1,0.5,0.75\n"


def test_separator_append_and_values(tmp_path):
    path = tmp_path / "log.tsv"
    fit([CSVLogger(path, separator="\t")], [{"loss": np.float32(0.5), "val_loss": np.array(2.0)}])
    fit(
        [CSVLogger(path, separator="\t", append=True)],
        [{"loss": 0.25, "val_loss": [1, 2]}, {"loss": 0.125, "val_loss": 1.5}],
    )
    assert path.read_text() == (
        "epoch\tloss\tval_loss\n0\t0.5\t2.0\n0\t0.25\t[1, 2]\n1\t0.125\t1.5\n"
    )
    comma = tmp_path / "list.csv"
    fit([CSVLogger(comma)], [{"loss": 1.0, "val_loss": [1, 2]}])
    assert comma.read_text() == 'epoch,loss,val_loss\n0,1.0,"[1, 2]"\n'


def test_append_to_a_new_or_empty_file_writes_the_header(tmp_path):
    path = tmp_path / "new.csv"
    fit([CSVLogger(path, append=True)], [{"loss": 1.0, "val_loss": 2.0}])
    path.write_text("")
    fit([CSVLogger(path, append=True)], [{"loss": 3.0, "val_loss": 4.0}])
    assert path.read_text() == "epoch,loss,val_loss\n0,3.0,4.0\n"


def test_second_fit_overwrites_and_sees_keys_added_by_earlier_callbacks(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    fit([logger], [{"loss": 9.0, "val_loss": 9.0}])
    fit([ReduceLROnPlateau(), logger], [{"loss": 1.0, "val_loss": 2.0}])
    assert path.read_text() == "epoch,learning_rate,loss,val_loss\n0,0.5,1.0,2.0\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filename": 3}, "Received: filename=3"),
        ({"filename": "a.csv", "separator": ";;"}, "Received: separator=';;'"),
        ({"filename": "a.csv", "separator": ""}, "Received: separator=''"),
        ({"filename": "a.csv", "append": "yes"}, "Received: append='yes'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message + "$"):
        CSVLogger(**kwargs)
