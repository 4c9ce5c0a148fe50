"""kerasish.utils.profile: time per op and kernel of a fit, by category, adding up to the
block's wall time, with GFLOP/s from the work each matrix product does."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers


def _fit_profiled(epochs=2):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                              layers.Dense(3)])  # fmt: skip
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    x = np.random.default_rng(0).standard_normal((40, 8)).astype("float32")
    y = np.arange(40) % 3
    model.fit(x[:10], y[:10], batch_size=10, verbose=0)  # traced and compiled before timing
    with keras.utils.profile() as prof:
        model.fit(x, y, batch_size=10, epochs=epochs, verbose=0)
    return prof


def test_the_rows_add_up_to_the_total_and_are_sorted():
    prof = _fit_profiled()
    rows = prof.rows()
    assert prof.total > 0
    assert sum(r["seconds"] for r in rows) == pytest.approx(prof.total, rel=1e-9, abs=1e-12)
    categories = {r["category"] for r in rows}
    assert {"forward", "backward", "optimizer", "data", "callbacks", "other"} <= categories
    measured = sum(r["seconds"] for r in rows if r["category"] != "other")
    assert 0 < measured <= prof.total
    # Categories by their total time, then rows by time within a category.
    by_category = prof.category_seconds()
    order = list(dict.fromkeys(r["category"] for r in rows))
    assert [by_category[c] for c in order] == sorted(by_category.values(), reverse=True)
    for c in order:
        times = [r["seconds"] for r in rows if r["category"] == c]
        assert times == sorted(times, reverse=True)


def test_matrix_products_count_their_flops_once_per_step():
    prof = _fit_profiled(epochs=1)  # 4 batches of 10
    rows = prof.rows()
    # Forward: 10x8 @ 8x16 and 10x16 @ 16x3 (each maybe fused with its bias and activation).
    forward_flops = sum(r["flops"] for r in rows if r["category"] == "forward")
    assert forward_flops == 4 * 2 * 10 * (8 * 16 + 16 * 3)
    with_rate = [r for r in rows if r["flops"]]
    assert with_rate and all(r["gflops"] == r["flops"] / r["seconds"] / 1e9 for r in with_rate)
    # The gradient of each matrix product is two products of the same size, less the input's
    # gradient of the first layer (nothing needs it).
    backward_flops = sum(r["flops"] for r in rows if r["category"] == "backward")
    assert backward_flops == 4 * 2 * 10 * (8 * 16 + 2 * 16 * 3)
    optimizer = [r for r in rows if r["category"] == "optimizer"]
    assert optimizer and all(r["calls"] % 4 == 0 for r in optimizer)
    assert [r["calls"] for r in rows if r["name"] == "batches"] == [1 + 4]  # + the last next()


def test_the_table_lists_every_category_and_profiles_do_not_nest():
    prof = _fit_profiled(epochs=1)
    printed = []
    text = prof.table(print_fn=printed.append)
    assert printed == [text]
    for category in ("forward", "backward", "optimizer", "data", "callbacks", "total"):
        assert any(line.startswith(category) for line in text.splitlines()), category
    with keras.utils.profile():
        with pytest.raises(RuntimeError, match="already running"):
            with keras.utils.profile():
                pass


class _SlowHooks(keras.callbacks.Callback):
    """Spends `seconds` in each batch hook of `predict` and `evaluate`."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def _wait(self):
        import time

        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass

    def on_predict_batch_end(self, batch, logs=None):
        self._wait()

    def on_test_batch_end(self, batch, logs=None):
        self._wait()


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_predict_and_evaluate_record_data_and_callback_time(method):
    model = keras.Sequential([keras.Input((8,)), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((40, 8)).astype("float32")
    y = np.zeros((40, 3), "float32")
    call = {
        "predict": lambda cbs: model.predict(x, batch_size=10, verbose=0, callbacks=cbs),
        "evaluate": lambda cbs: model.evaluate(x, y, batch_size=10, verbose=0, callbacks=cbs),
    }[method]
    call(None)
    call(None)  # compiled, and the short path of a repeated call set up
    with keras.utils.profile() as prof:
        call([_SlowHooks(0.02)])
    rows = prof.rows()
    assert sum(r["seconds"] for r in rows) == pytest.approx(prof.total, rel=1e-9, abs=1e-12)
    seconds = prof.category_seconds()
    hooks = "on_predict_batch_end" if method == "predict" else "on_test_batch_end"
    assert [r["calls"] for r in rows if r["name"] == hooks] == [4]
    assert seconds["callbacks"] >= 4 * 0.02
    assert [r["calls"] for r in rows if r["name"] == "batches"] == [1 + 4]  # + the last next()
    assert seconds["forward"] > 0
    assert seconds["other"] < seconds["callbacks"]  # the hooks' time is not left in "other"
    # One batch of the shape the last step ran on, without callbacks (the pre-bound path
    # when no profile runs): a profile still sees its batch.
    one = {
        "predict": lambda: model.predict(x[:10], verbose=0),
        "evaluate": lambda: model.evaluate(x[:10], y[:10], verbose=0),
    }[method]
    one()
    with keras.utils.profile() as prof:
        one()
    assert [r["calls"] for r in prof.rows() if r["name"] == "batches"] == [1 + 1]
