"""pad_sequences and timeseries_dataset_from_array against values recorded from real Keras
3.15 (tests/fixtures/keras_goldens/text.json, tools/keras_goldens/record_text.py), their
errors, and the timeseries batches going through fit / evaluate / predict."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "text.json").read_text())
PAD = RECORDED["pad_sequences"]
SERIES = RECORDED["timeseries"]

# Where Keras fails by accident, kerasish does what the arguments ask: maxlen=0 gives
# sequences of length 0 (Keras' numpy assignment fails to broadcast).
PAD_CHOICES = {"zero_maxlen": [[]]}


def _pad_args(case):
    kwargs = {k: object if v == "object" else v for k, v in case["kwargs"].items()}
    sequences = case["sequences"]
    if kwargs.get("maxlen") == 2 and kwargs.get("padding") == "post" and len(sequences) == 2:
        sequences = [np.array(s) for s in sequences]  # the "numpy_rows" case
    return sequences, kwargs


@pytest.mark.parametrize("name", sorted(PAD))
def test_pad_sequences_matches_keras(name):
    case = PAD[name]
    sequences, kwargs = _pad_args(case)
    if name in PAD_CHOICES:
        assert keras.utils.pad_sequences(sequences, **kwargs).tolist() == PAD_CHOICES[name]
    elif "error" in case:
        with pytest.raises(ValueError, match="pad_sequences: "):
            keras.utils.pad_sequences(sequences, **kwargs)
    else:
        out = keras.preprocessing.sequence.pad_sequences(sequences, **kwargs)
        assert out.tolist() == case["output"]
        assert str(out.dtype) == case["dtype"]


def test_pad_sequences_errors_name_the_argument():
    with pytest.raises(ValueError, match="padding='middle'"):
        keras.utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="maxlen=-1"):
        keras.utils.pad_sequences([[1]], maxlen=-1)
    with pytest.raises(ValueError, match=r"maxlen.*must be given"):
        keras.utils.pad_sequences([])
    assert keras.utils.pad_sequences([], maxlen=3).shape == (0, 3)
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\) in the sequence at position 1"):
        keras.utils.pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(ValueError, match=r"sequences. Received: sequences=5 \(of type int\)"):
        keras.utils.pad_sequences(5)


def _series_case(name):
    case = SERIES[name]
    data = np.array(SERIES["data"], np.float32)
    targets = np.array(SERIES["targets"], np.int32)
    if case["no_targets"]:
        targets = None
    elif case["target_length"]:
        targets = targets[: case["target_length"]]
    return case, data, targets


CASES = sorted(n for n in SERIES if n not in ("data", "targets"))


@pytest.mark.parametrize("name", [n for n in CASES if n != "shuffled"])
def test_timeseries_windows_match_keras(name):
    case, data, targets = _series_case(name)
    if "error" in case:
        with pytest.raises(ValueError, match="timeseries_dataset_from_array: "):
            keras.utils.timeseries_dataset_from_array(data, targets, **case["kwargs"])
        return
    ds = keras.utils.timeseries_dataset_from_array(data, targets, **case["kwargs"])
    assert len(ds) == len(case["batches"])
    for _ in range(2):  # iterable again, with the same batches
        got = [
            {"x": b.tolist()} if targets is None else {"x": b[0].tolist(), "y": b[1].tolist()}
            for b in ds
        ]
        assert got == case["batches"]


def test_timeseries_shuffle_pairs_windows_with_their_targets():
    case, data, targets = _series_case("shuffled")
    ds = keras.utils.timeseries_dataset_from_array(data, targets, **case["kwargs"])

    def pairs():
        return [(x.tolist(), int(y)) for xb, yb in ds for x, y in zip(xb, yb, strict=True)]

    recorded = [(x, y) for b in case["batches"] for x, y in zip(b["x"], b["y"], strict=True)]
    first = pairs()
    assert sorted(first) == sorted(recorded)  # every window once, with its target
    # The first order is Keras' first shuffle of the window starts (RandomState(seed)).
    starts = np.arange(len(first))
    np.random.RandomState(case["kwargs"]["seed"]).shuffle(starts)
    assert [y for _, y in first] == [int(targets[s]) for s in starts]
    ds.on_epoch_end()
    second = pairs()
    assert sorted(second) == sorted(first) and second != first  # a new order each epoch


def test_timeseries_argument_errors():
    data = np.zeros((10, 1))
    for kwargs, match in [
        ({"sequence_length": 0}, "sequence_length=0"),
        ({"sequence_length": 3, "batch_size": 0}, "batch_size=0"),
        ({"sequence_length": 3, "sequence_stride": -2}, "sequence_stride=-2"),
    ]:
        with pytest.raises(ValueError, match=match):
            keras.utils.timeseries_dataset_from_array(data, None, **kwargs)
    with pytest.raises(IndexError, match="out of range"):
        keras.utils.timeseries_dataset_from_array(data, None, 3, batch_size=4)[3]


def test_timeseries_batches_train_evaluate_and_predict():
    t = np.arange(220, dtype=np.float32)
    series = np.stack([np.sin(t / 8), np.cos(t / 8)], axis=-1)
    # Target: the first feature 2 steps after the window's start, a linear function of it.
    ds = keras.utils.timeseries_dataset_from_array(
        series, series[2:, 0], sequence_length=4, batch_size=32, shuffle=True, seed=1
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 2)), layers.Flatten(), layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    history = model.fit(ds, epochs=30, verbose=0)
    assert history.history["loss"][-1] < min(0.01, history.history["loss"][0] / 10)
    assert model.evaluate(ds, verbose=0) < 0.01
    windows = keras.utils.timeseries_dataset_from_array(series, None, 4, batch_size=50)
    predictions = model.predict(windows, verbose=0)
    assert predictions.shape == (217, 1)
    np.testing.assert_allclose(predictions[:, 0], series[2:219, 0], atol=0.15)


def test_pad_sequences_takes_an_object_array_of_lists():
    reviews = np.empty(3, dtype=object)  # as keras.datasets.imdb.load_data returns them
    reviews[:] = [[5, 8, 2], [7], []]
    assert keras.utils.pad_sequences(reviews, maxlen=2).tolist() == [[8, 2], [0, 7], [0, 0]]
