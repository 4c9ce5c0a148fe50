"""`kerasish.utils.profile`: where the time of `fit`, `predict` or any compiled call goes."""

from __future__ import annotations

import time
from contextlib import contextmanager

from backend import profiling

#: The order categories are described in (the table sorts them by time).
CATEGORIES = ("forward", "backward", "optimizer", "data", "callbacks", "plan", "other")

_OTHER = "Python outside the steps (the fit loop, metrics to Python, ...)"


class Profile:
    """What a `profile()` block measured: time per op and kernel, by category.

    `total` is the block's wall time in seconds. `rows()` lists one row per (category, name)
    and an "other" row for the time no step, batch or callback accounts for, so the rows
    add up to `total`. `table()` formats them.
    """

    def __init__(self):
        self.recorder = profiling.Recorder()
        self.total = 0.0

    def rows(self) -> list:
        """Dicts with `category`, `name`, `calls`, `seconds`, `flops` and `gflops` (GFLOP/s, or
        None where the work is not known), sorted by category time, then by time."""
        rows = [
            {"category": category, "name": name, "calls": calls, "seconds": seconds,
             "flops": flops, "gflops": flops / seconds / 1e9 if flops and seconds else None}
            for (category, name), (calls, seconds, flops) in self.recorder.records.items()
        ]  # fmt: skip
        measured = sum(row["seconds"] for row in rows)
        rows.append({"category": "other", "name": _OTHER, "calls": 1,
                     "seconds": self.total - measured, "flops": 0.0, "gflops": None})  # fmt: skip
        by_category: dict = {}
        for row in rows:
            by_category[row["category"]] = by_category.get(row["category"], 0.0) + row["seconds"]
        rows.sort(key=lambda r: (-by_category[r["category"]], r["category"], -r["seconds"]))
        return rows

    def category_seconds(self) -> dict:
        """Seconds by category (they add up to `total`)."""
        out: dict = {}
        for row in self.rows():
            out[row["category"]] = out.get(row["category"], 0.0) + row["seconds"]
        return out

    def table(self, limit: int | None = None, print_fn=print) -> str:
        """The rows as a text table (each category with its subtotal, then its rows, at most
        `limit` per category), printed with `print_fn` (None: only returned)."""
        lines = [
            f"{'category / op or kernel':<58} {'calls':>7} {'ms':>10} {'%':>6} {'GFLOP/s':>8}",
            "-" * 93,
        ]
        total = self.total or 1e-12
        shown: dict = {}
        seconds = self.category_seconds()
        for row in self.rows():
            category = row["category"]
            if category not in shown:
                shown[category] = 0
                lines.append(f"{category:<58} {'':>7} {seconds[category] * 1e3:>10.2f} "
                             f"{100 * seconds[category] / total:>5.1f}%")  # fmt: skip
            shown[category] += 1
            if limit is not None and shown[category] > limit:
                continue
            gflops = "" if row["gflops"] is None else f"{row['gflops']:.1f}"
            name = row["name"] if len(row["name"]) <= 54 else row["name"][:51] + "..."
            lines.append(f"  {name:<56} {row['calls']:>7} {row['seconds'] * 1e3:>10.2f} "
                         f"{100 * row['seconds'] / total:>5.1f}% {gflops:>8}")  # fmt: skip
        lines.append("-" * 93)
        lines.append(f"{'total':<58} {'':>7} {self.total * 1e3:>10.2f} {100.0:>5.1f}%")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


@contextmanager
def profile():
    """Measures where time goes inside the block: each operation of every compiled step that
    runs (time per op and kernel, grouped as forward, backward and optimizer, with GFLOP/s for
    matrix products and convolutions), batch assembly ("data") and callbacks in `fit`,
    `evaluate` and `predict`, and the compiled steps' own copies in and out ("plan"). Profiles
    do not nest.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
        >>> with keras.utils.profile() as prof:
        ...     _ = model.fit(x, y, batch_size=4, verbose=0)
        >>> sorted({row["category"] for row in prof.rows()} & {"forward", "backward"})
        ['backward', 'forward']
        >>> abs(sum(row["seconds"] for row in prof.rows()) - prof.total) < 1e-9
        True
    """
    if profiling.active is not None:
        raise RuntimeError("kerasish.utils.profile: a profile is already running.")
    prof = Profile()
    profiling.active = prof.recorder
    start = time.perf_counter()
    try:
        yield prof
    finally:
        prof.total = time.perf_counter() - start
        profiling.active = None


class _TimedCallbacks:
    """A CallbackList whose hooks record their time while profiling."""

    def __init__(self, callbacks, recorder):
        self._callbacks = callbacks
        self._recorder = recorder

    def __getattr__(self, name):
        value = getattr(self._callbacks, name)
        if not (name.startswith("on_") and callable(value)):
            return value
        recorder = self._recorder

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                recorder.add("callbacks", name, time.perf_counter() - start)

        return timed


def timed_callbacks(callbacks):
    """`callbacks` (a CallbackList), timed while a profile runs."""
    recorder = profiling.active
    return callbacks if recorder is None else _TimedCallbacks(callbacks, recorder)
