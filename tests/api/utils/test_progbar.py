"""The progress bar: Keras' text, fitted to terminals of any width, one line per epoch in logs."""

import fcntl
import io
import os
import re
import struct
import sys
import termios
import threading
import time

import numpy as np
import pytest

import kerasish as keras
from kerasish.callbacks import CallbackList
from kerasish.utils import Progbar, progbar_display

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BATCH_LOGS = {"loss": 0.312345, "accuracy": 0.912345}
EPOCH_LOGS = {**BATCH_LOGS, "val_loss": 0.000123, "val_accuracy": 0.5}
SHOWN = {  # every name with its value as Keras formats it
    "loss": "0.3123",
    "accuracy": "0.9123",
    "val_loss": "1.2300e-04",
    "val_accuracy": "0.5000",
}
# Eight metrics: more than a line of 120 columns holds.
MANY_BATCH_LOGS = {**BATCH_LOGS, "mae": 0.25, "precision_at_recall": 0.75}
MANY_EPOCH_LOGS = {**MANY_BATCH_LOGS, **{f"val_{k}": v for k, v in MANY_BATCH_LOGS.items()}}


class Terminal:
    """A pseudo-terminal `columns` wide standing in for sys.stdout, and what it received."""

    def __init__(self, columns: int):
        self.columns = columns
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # keep "\n" as written
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.master = master
        self.file = os.fdopen(slave, "w", encoding="utf-8")
        self.chunks = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the other side closed
                return
            if not data:
                return
            self.chunks.append(data)

    def close(self) -> str:
        self.file.close()
        self.reader.join(timeout=10)
        os.close(self.master)
        return b"".join(self.chunks).decode("utf-8")


def screen(text: str, columns: int) -> list[str]:
    """The lines a terminal `columns` wide shows after `text` (carriage returns rewrite the
    line, a full line wraps)."""
    rows, row, col = [[]], 0, 0
    for char in ANSI.sub("", text):
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
            rows.append([])
        else:
            if col == columns:
                row, col = row + 1, 0
                rows.append([])
            line = rows[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = char
            col += 1
    return ["".join(r).rstrip() for r in rows]


def simulate_fit(verbose=1, epochs=2, steps=30, pause=0.0, batch_logs=None, epoch_logs=None):
    callbacks = CallbackList(add_progbar=True, verbose=verbose, epochs=epochs, steps=steps)
    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps):
            time.sleep(pause)
            callbacks.on_train_batch_end(batch, dict(batch_logs or BATCH_LOGS))
        callbacks.on_epoch_end(epoch, dict(epoch_logs or EPOCH_LOGS))
    callbacks.on_train_end()


def epoch_blocks(lines: list[str]) -> list[str]:
    """The text that ends each epoch (the lines after each `Epoch i/n` header), joined."""
    blocks, current = [], None
    for line in lines:
        if re.fullmatch(r"Epoch \d+/\d+", line):
            current = []
            blocks.append(current)
        elif line.strip():
            current.append(line)
    return ["\n".join(b) for b in blocks]


def assert_every_metric_in(text: str, shown=None):
    for name, value in (shown or SHOWN).items():
        assert f"{name}: {value}" in text, (name, text)


def run_in_terminal(columns, monkeypatch, **kwargs) -> str:
    terminal = Terminal(columns)
    monkeypatch.setattr(sys, "stdout", terminal.file)
    try:
        simulate_fit(pause=0.004, **kwargs)  # slow enough for the bar to redraw in an epoch
    finally:
        monkeypatch.undo()
    return terminal.close()


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_terminal_bar_fits_the_width_and_the_epoch_line_keeps_every_metric(columns, monkeypatch):
    raw = run_in_terminal(columns, monkeypatch)
    updates = [ANSI.sub("", part) for part in re.split(r"[\r\n]", raw)]
    assert len([u for u in updates if u.startswith(" 1/30") or u.startswith("1/30")]) == 2
    # Each redraw fits in the line (so a carriage return really rewrites it)...
    for update in updates:
        assert len(update) < columns, update
    lines = screen(raw, columns)
    blocks = epoch_blocks(lines)
    # ... so the screen holds only the headers and each epoch's closing text, which names
    # every metric with its value, whole.
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/2", "Epoch 2/2"]
    assert len(blocks) == 2
    for block in blocks:
        assert block.startswith("30/30")
        assert_every_metric_in(block)
    closing = blocks[0].split("\n")
    if columns == 120:  # everything fits on one line, bar included
        assert len(closing) == 1 and re.match(r"30/30 ━{20} \d+s", closing[0]), closing
    else:  # no room for a bar: the metrics continue on further lines
        assert len(closing) > 1 and "━" not in blocks[0], closing
    # While running (two metrics), the bar stays, shrunk at 60 columns.
    running = [u for u in updates if re.match(r"\d+/30 ━", u) and not u.startswith("30/30")]
    assert running
    for update in running:
        assert all(f"{n}: " in update for n in BATCH_LOGS)
        bar = re.match(r"\d+/30 (━+)", update).group(1)
        assert len(bar) == 20 if columns >= 80 else 4 <= len(bar) < 20


def test_narrow_terminal_shows_the_running_metrics_that_fit_and_wraps_the_closing_ones(
    monkeypatch,
):
    raw = run_in_terminal(60, monkeypatch, batch_logs=MANY_BATCH_LOGS, epoch_logs=MANY_EPOCH_LOGS)
    updates = [ANSI.sub("", part) for part in re.split(r"[\r\n]", raw)]
    running = [u for u in updates if re.match(r" ?\d+/30", u) and not u.startswith("30/30")]
    assert running
    for update in running:  # no bar, and the metrics that fit, each whole
        assert len(update) < 60 and "━" not in update
        assert "accuracy: 0.9123 - loss: 0.3123" in update and "val_" not in update
    lines = screen(raw, 60)
    for block in epoch_blocks(lines):
        shown = {name: f"{value:.4f}" for name, value in MANY_EPOCH_LOGS.items()}
        assert_every_metric_in(block, shown)
        assert len(block.split("\n")) >= 3
    assert all(len(line) < 60 for line in lines)  # wrapped at metric boundaries


def test_log_output_has_one_line_per_epoch_with_every_metric(capsys):
    simulate_fit()
    lines = capsys.readouterr().out.split("\n")
    assert lines[-1] == "" and "\r" not in "".join(lines)
    lines = lines[:-1]
    assert lines[0::2] == ["Epoch 1/2", "Epoch 2/2"] and len(lines) == 4
    for line in lines[1::2]:
        assert re.match(r"30/30 ━{20} \d+s \d+(s|ms|us)/step - accuracy: ", line), line
        assert_every_metric_in(line)


def test_jupyter_without_ipywidgets_rewrites_one_unlimited_line(capsys, monkeypatch):
    monkeypatch.setattr(progbar_display, "display_mode", lambda file: "stream")
    simulate_fit(epochs=1, pause=0.002)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.count("\r") >= 2  # one line, rewritten in place
    final = out.rstrip("\n").split("\r")[-1]
    assert "\x1b" not in final and final.startswith("30/30 ━")
    assert_every_metric_in(final)
    # without colors, the part of the bar still to come is blank, so the progress shows
    frames = [f for f in out.split("\r") if re.match(r"(\d+)/30 ", f)]
    partial = [f for f in frames if 0 < int(f.split("/")[0]) < 30]
    assert partial, frames
    for frame in partial:
        bar = re.match(r"\s*\d+/30 (━*)( *) ", frame)
        assert bar and len(bar.group(1)) < len(final.split(" ")[1]) and bar.group(2), frame


def test_jupyter_with_ipywidgets_updates_one_widget_per_epoch(capsys, monkeypatch):
    pytest.importorskip("ipywidgets")
    from tqdm import notebook

    containers = []
    original = notebook.tqdm.status_printer

    def recording_status_printer(*args, **kwargs):
        container = original(*args, **kwargs)
        containers.append(container)
        return container

    monkeypatch.setattr(notebook.tqdm, "status_printer", staticmethod(recording_status_printer))
    monkeypatch.setattr(progbar_display, "_in_jupyter_kernel", lambda: True)
    simulate_fit(epochs=2, pause=0.002)
    assert len(containers) == 2  # one widget per epoch, updated in place
    for container in containers:
        left, bar, right = container.children
        assert left.value == "30/30" and bar.value == 30 and bar.max == 30
        assert bar.bar_style == "success"
        text = right.value.replace("\u2007", " ").replace("\u200b", "")
        assert_every_metric_in(text)


def test_progbar_has_keras_signature_and_averages_stateless_values(capsys):
    bar = Progbar(4, width=10, verbose=2, interval=0.0, stateful_metrics=["acc"], unit_name="b")
    bar.update(2, [("loss", 1.0), ("acc", 0.1)])
    bar.add(1, [("loss", 3.0), ("acc", 0.9)])
    # loss: averaged over steps, weighted by the steps each value covered: (1*2 + 3*1) / 3;
    # acc is stateful: shown as last given.
    assert bar.render(None, False, color=False).endswith(" - acc: 0.9000 - loss: 1.6667")
    assert capsys.readouterr().out == ""  # verbose=2 prints only the end
    bar.add(1, [("loss", 5.0), ("acc", 0.5)])  # as Keras, the final values are shown as given
    assert re.fullmatch(
        r"4/4 - \d+s - \d+(s|ms|us)/b - acc: 0\.5000 - loss: 5\.0000\n", capsys.readouterr().out
    )
    with pytest.raises(ValueError, match="only one of.*Received"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
    with pytest.raises(ValueError, match="Received: target=-1"):
        Progbar(-1)
    assert keras.utils.Progbar is Progbar


def test_progbar_unknown_target_and_time_formats(capsys):
    bar = Progbar(None, verbose=1)
    for step in range(1, 4):
        bar.update(step, [("loss", 0.5)])
    assert capsys.readouterr().out == ""  # a log gets only the closing line
    bar.update(3, [("loss", 0.5)], finalize=True)
    assert re.fullmatch(r"      3/Unknown \d+s \d+(s|ms|us)/step - loss: 0\.5000\n",
                        capsys.readouterr().out)  # fmt: skip
    from kerasish.utils.progbar import format_eta, format_time_per_unit

    assert [format_eta(s) for s in (7.9, 98, 7321)] == ["7s", "1:38", "2:02:01"]
    assert [format_time_per_unit(s, "step") for s in (2.4, 0.1234, 2e-5, 0)] == [
        "2s/step", "123ms/step", "20us/step", "0s/step",
    ]  # fmt: skip


def test_first_step_shows_time_taken_then_an_estimate_without_the_first_step():
    bar = Progbar(101, verbose=0)
    bar._start = 0.0
    bar._seen_so_far, bar._now = 1, 30.0  # a first step that compiled for 30 s
    assert bar._timing(False) == ("30s", "30s/step")  # no estimate yet: time taken
    bar._time_after_first_step = 30.0
    bar._seen_so_far, bar._now = 11, 30.5  # then 10 steps of 50 ms
    assert bar._timing(False) == ("4s", "50ms/step")  # 90 steps left


def test_bar_redraws_are_bounded_whatever_the_number_of_steps(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(progbar_display, "display_mode", lambda file: "terminal")
    callbacks = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=20000)
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    start = time.perf_counter()
    for batch in range(20000):
        callbacks.on_train_batch_end(batch, {"loss": 0.5, "accuracy": 0.25})
    elapsed = time.perf_counter() - start
    callbacks.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.25})
    monkeypatch.undo()
    redraws = stream.getvalue().count("\r")
    # At most one redraw per 0.05 s (plus the first and the closing ones), not one per step.
    assert redraws <= elapsed / 0.05 + 4, (redraws, elapsed)


def test_fit_draws_the_bar_in_a_terminal(monkeypatch):
    x = np.random.default_rng(0).random((64, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    terminal = Terminal(120)
    monkeypatch.setattr(sys, "stdout", terminal.file)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=1)
    monkeypatch.undo()
    lines = [line for line in screen(terminal.close(), 120) if line]
    assert lines[0::2] == ["Epoch 1/2", "Epoch 2/2"] and len(lines) == 4
    for epoch, line in enumerate(lines[1::2]):
        assert line.startswith("3/3 ━")
        for name, values in history.history.items():
            assert f"{name}: {values[epoch]:.4f}" in line
