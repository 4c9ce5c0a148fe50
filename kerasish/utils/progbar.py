"""`Progbar`: Keras' progress bar, drawn by tqdm, that never cuts a metric off.

The text follows Keras 3: `25/25 ━━━━━━━━━━━━━━━━━━━━ 7s 123ms/step - accuracy: 0.9123 -
loss: 0.3012`, with the time left while running and the time taken at the end. Where the
bar is shown (terminal, notebook widget, plain log) is chosen by `progbar_display`.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import progbar_display

__all__ = ["Progbar"]

# A bar narrower than this is dropped rather than drawn: it would say nothing.
_MIN_BAR_WIDTH = 4
_BOLD, _GREEN, _GRAY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def format_value(value) -> str:
    """A metric as Keras prints it: 4 decimals, or 4 significant digits when tiny."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            number = float(np.mean(value))  # an array: its mean, as Keras
        except (TypeError, ValueError):
            return str(value)
    return f"{number:.4f}" if abs(number) > 1e-3 else f"{number:.4e}"


def format_time_per_unit(seconds: float, unit_name: str) -> str:
    """`"123ms/step"`: whole seconds, milliseconds or microseconds per unit, as Keras."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_eta(seconds: float) -> str:
    """`"7s"`, `"1:38"` or `"2:01:38"`, as Keras shows the time left."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _supports(file, text: str) -> bool:
    encoding = getattr(file, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def fit_lines(head: str, items: list[str], width: int | None, wrap: bool) -> list[str]:
    """`head` followed by `items` (each `" - name: value"`), within `width` columns.

    All of it on one line when it fits (or `width` is None). Otherwise, with `wrap`, items
    move to further lines, each kept whole (an item wider than the line gets a line of its
    own); without `wrap`, the one line keeps the items that fit.
    """
    line = head + "".join(items)
    if width is None or len(line) <= width:
        return [line]
    lines, current = [], head
    for item in items:
        if len(current) + len(item) <= width:
            current += item
        elif not wrap:
            break
        else:
            lines.append(current)
            current = item
    return [*lines, current]


class Progbar:
    """A progress bar, as `keras.utils.Progbar`: what `fit`, `evaluate` and `predict` show.

    Call `update(current, values)` after each step (`values`: `(name, value)` pairs) or
    `add(n, values)`. A value is averaged over the steps seen unless its name is in
    `stateful_metrics` (shown as given); `stateless_metrics` inverts that default. With
    `verbose=1` the bar updates in place at most every `interval` seconds and ends on a line
    like `25/25 ━━━━━━━━━━━━━━━━━━━━ 7s 123ms/step - loss: 0.3012`; with `verbose=2` only that
    end is printed, as `25/25 - 7s - 123ms/step - loss: 0.3012`; with 0, nothing.

    It is drawn by tqdm: in a terminal, one line fitted to the terminal's width (a narrow one
    first shrinks the bar, then drops it, then shows the values that fit, while the final line
    shows every value, continued on further lines if needed); in Jupyter, tqdm's widget (with
    ipywidgets) or one rewritten line; in a file or pipe (logs, CI), only the final line.
    While the first step runs no estimate exists, so after it the bar shows the time taken
    rather than a time left.

    Example:
        >>> bar = Progbar(target=3, verbose=2)
        >>> for step in range(1, 4):
        ...     bar.update(step, [("loss", 1.0 / step)])
        3/3 - 0s - ...s/step - loss: 0.3333
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):  # fmt: skip
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar: pass only one of `stateful_metrics` and `stateless_metrics`. "
                f"Received: stateful_metrics={stateful_metrics!r}, "
                f"stateless_metrics={stateless_metrics!r}"
            )
        if target is not None and (isinstance(target, bool) or not isinstance(
                target, (int, np.integer)) or target < 0):  # fmt: skip
            raise ValueError(
                f"Progbar: `target` must be an int >= 0 or None. Received: target={target!r}"
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: `verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = None if stateful_metrics is None else set(stateful_metrics)
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        if self.stateful_metrics is None and self.stateless_metrics is None:
            self.stateful_metrics = set()
        # name -> value shown as is, or [weighted sum, weight] to average
        self._values: dict[str, object] = {}
        self._seen_so_far = 0
        self._start = time.monotonic()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._now = self._start
        self._finalized = False
        self._file = None
        self._mode = None
        self._tqdm = None
        self._bar_char = "━"

    # ---- the state ----------------------------------------------------------------------------

    def _stateless(self, name: str) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None) -> None:
        """Records step `current` (counted from 1) and its `values`; redraws when due.

        `finalize` (default: `current >= target`) ends the bar: its last line is printed.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            if not self._stateless(name):
                self._values[name] = value
            elif finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    total = self._values[name]
                    total[0] += value * weight
                    total[1] += weight
                else:
                    self._values[name] = [value * weight, weight]
        self._seen_so_far = current
        now = time.monotonic()
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        if self.verbose == 0 or self._finalized:
            return
        if not finalize and now - self._last_update < self.interval:
            return
        self._last_update = now
        self._now = now
        if finalize:
            self._finalized = True
        self._draw(finalize)

    def add(self, n, values=None) -> None:
        """`update(steps seen + n, values)`."""
        self.update(self._seen_so_far + n, values)

    # ---- the text -----------------------------------------------------------------------------

    def _time_per_unit(self, current: int) -> float:
        if not current:
            return 0.0
        first = self._time_after_first_step
        if first is not None and current > 1:
            return (self._now - first) / (current - 1)
        return (self._now - self._start) / current

    def _items(self) -> list[str]:
        items = []
        for name in sorted(self._values):  # Keras shows the logs sorted by name
            value = self._values[name]
            if isinstance(value, list):
                value = value[0] / max(1, value[1])
            items.append(f" - {name}: {format_value(value)}")
        return items

    def _count(self) -> str:
        current = self._seen_so_far
        if self.target:
            return f"{current:>{len(str(self.target))}d}/{self.target}"
        return f"{current:7d}/Unknown"

    def _timing(self, finalize: bool) -> tuple[str, str]:
        """(time left, or time taken once there is no estimate or at the end; time per unit)."""
        current = self._seen_so_far
        per_unit = self._time_per_unit(current)
        if finalize or not self.target or current <= 1:
            when = f"{self._now - self._start:.0f}s"
        else:
            when = format_eta(per_unit * (self.target - current))
        return when, format_time_per_unit(per_unit, self.unit_name)

    def _bar(self, width: int, color: bool) -> str:
        done = int(width * self._seen_so_far / self.target) if self.target else 0
        done = min(done, width)
        if not color:  # the part still to come as blanks, so the progress shows
            return self._bar_char * done + " " * (width - done)
        head = f"{_GREEN}{self._bar_char * done}{_RESET}" if done else ""
        return head + f"{_GRAY}{self._bar_char * (width - done)}{_RESET}"

    def render(self, columns: int | None, finalize: bool, color: bool) -> str:
        """The bar's text for a display `columns` wide (None: unlimited)."""
        count = self._count()
        when, per_unit = self._timing(finalize)
        items = self._items()
        width = None if columns is None else max(columns - 1, 1)  # never write the last column
        tail = f" {when} {per_unit}"
        bar_width = 0
        if self.target:
            bar_width = self.width
            if width is not None:
                room = width - len(count) - 1 - len(tail) - sum(len(i) for i in items)
                bar_width = min(self.width, room)
                if bar_width < _MIN_BAR_WIDTH:
                    bar_width = 0
        plain_head = count + (" " + self._bar(bar_width, False) if bar_width else "") + tail
        lines = fit_lines(plain_head, items, width, wrap=finalize)
        if color:
            head = f"{_BOLD}{count}{_RESET}"
            if bar_width:
                head += " " + self._bar(bar_width, True)
            head += f" {_BOLD}{when}{_RESET} {per_unit}"
            lines[0] = head + lines[0][len(plain_head) :]
        return "\n".join(lines)

    def _verbose2_line(self) -> str:
        count = self._count()
        when = f"{self._now - self._start:.0f}s"
        per_unit = format_time_per_unit(self._time_per_unit(self._seen_so_far), self.unit_name)
        return f"{count} - {when} - {per_unit}" + "".join(self._items())

    # ---- the drawing --------------------------------------------------------------------------

    def _draw(self, finalize: bool) -> None:
        if self._file is None:
            self._file = sys.stdout
            self._mode = progbar_display.display_mode(self._file)
            if not _supports(self._file, self._bar_char):
                self._bar_char = "="
        if self.verbose == 2:
            if finalize and self.target:
                self._write(self._verbose2_line() + "\n")
            return
        if self._mode == "log":
            if finalize:
                self._write(self.render(None, True, color=False) + "\n")
            return
        new = self._tqdm is None
        if new:  # tqdm draws it at once
            self._tqdm = progbar_display.make_tqdm(
                self._mode, self._tqdm_text, self.target, self._file
            )
        self._tqdm.n = min(self._seen_so_far, self.target or self._seen_so_far)
        if finalize:
            self._tqdm.close()
        elif not new:
            self._tqdm.refresh()

    def _tqdm_text(self, columns):
        """What the tqdm bar shows: a line (text modes) or (left, right) (notebook)."""
        finalize = self._finalized
        if self._mode == "notebook":
            count = self._count()
            when, per_unit = self._timing(finalize)
            return count, f" {when} {per_unit}" + "".join(self._items())
        return self.render(columns, finalize, color=self._mode == "terminal")

    def _write(self, text: str) -> None:
        self._file.write(text)
        self._file.flush()
