"""TensorBoard: event files read back record by record, as TensorBoard reads them."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """The checksum of TFRecord framing: CRC-32C, rotated and offset."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder: Path):
    """Every Event in the one event file of `folder`, each record's checksums verified."""
    from tensorboardX.proto import event_pb2

    files = list(folder.glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    data, events, offset = files[0].read_bytes(), [], 0
    while offset < len(data):
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        assert length_crc == masked_crc32c(header)
        body = data[offset + 12 : offset + 12 + length]
        (body_crc,) = struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])
        assert body_crc == masked_crc32c(body)
        event = event_pb2.Event()
        event.ParseFromString(body)
        events.append(event)
        offset += 16 + length
    return events


def scalars(events) -> dict:
    """{tag: {step: value}} of the scalar summaries."""
    found = {}
    for event in events:
        for value in event.summary.value:
            if value.HasField("simple_value"):
                found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


def test_fit_writes_epoch_and_batch_scalars_tensorboard_can_read(tmp_path):
    pytest.importorskip("tensorboardX")
    rng = np.random.default_rng(0)
    x = rng.random((80, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    batch_losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"])
    )
    board = keras.callbacks.TensorBoard(tmp_path / "logs", update_freq=2, histogram_freq=1)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.2, verbose=0,
                        callbacks=[record, board])  # fmt: skip

    train = read_events(tmp_path / "logs" / "train")
    assert train[0].file_version == "brain.Event:2"
    found = scalars(train)
    for name in ("loss", "accuracy"):
        expected = {epoch: v for epoch, v in enumerate(history.history[name])}
        assert found[f"epoch_{name}"] == pytest.approx(expected, rel=1e-6)
    assert found["epoch_learning_rate"] == pytest.approx({0: 0.05, 1: 0.05})
    # update_freq=2: every second of the 8 training batches (4 per epoch), by global batch
    assert found["batch_loss"] == pytest.approx(
        {step: batch_losses[step - 1] for step in (2, 4, 6, 8)}, rel=1e-6
    )
    histograms = {v.tag for e in train for v in e.summary.value if v.HasField("histo")}
    assert histograms == {f"{model.layers[0].name}/kernel/histogram",
                          f"{model.layers[0].name}/bias/histogram"}  # fmt: skip
    assert any(v.tag.startswith("keras") for e in train for v in e.summary.value)  # the config

    validation = scalars(read_events(tmp_path / "logs" / "validation"))
    for name in ("loss", "accuracy"):
        expected = {epoch: v for epoch, v in enumerate(history.history[f"val_{name}"])}
        assert validation[f"epoch_{name}"] == pytest.approx(expected, rel=1e-6)


def test_evaluate_writes_evaluation_scalars_at_the_optimizer_step(tmp_path):
    pytest.importorskip("tensorboardX")
    x = np.ones((8, 3), "float32")
    y = np.zeros((8, 1), "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 2 steps
    loss = model.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path)])
    found = scalars(read_events(tmp_path / "validation"))
    assert found == {"evaluation_loss_vs_iterations": {2: pytest.approx(loss, rel=1e-6)}}


def test_without_tensorboardx_the_error_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"tensorboardX.*pip install tensorboardX"):
        keras.callbacks.TensorBoard("logs")


def test_bad_arguments_are_named(monkeypatch):
    pytest.importorskip("tensorboardX")
    with pytest.raises(ValueError, match="Received: update_freq=0"):
        keras.callbacks.TensorBoard("logs", update_freq=0)
    with pytest.raises(ValueError, match=r"profiling.*Received: profile_batch=\(2, 4\)"):
        keras.callbacks.TensorBoard("logs", profile_batch=(2, 4))
    with pytest.warns(UserWarning, match="write_images"):
        keras.callbacks.TensorBoard("logs", write_images=True)
