"""Where a progress bar is shown, and the tqdm classes that show it.

`display_mode(file)` picks one of four ways to show an updating bar:

- `"notebook"`: in a Jupyter kernel with ipywidgets installed, tqdm's notebook widget (one
  widget per bar, updated in place);
- `"stream"`: a Jupyter kernel without ipywidgets, or PyCharm's console: one text line
  rewritten with carriage returns, of unlimited width (the front end wraps it);
- `"terminal"`: a terminal (`file.isatty()`): one line rewritten in place, fitted to the
  terminal's current width;
- `"log"`: anything else (a file, a pipe, CI logs): nothing until the bar ends, then one line.

tqdm does the drawing in the first three: it measures the terminal, rewrites the line and
builds the widget. The text itself (Keras' layout) comes from the `Progbar` that owns it, through
the `render` callable given to these classes.
"""

from __future__ import annotations

import os
import sys

__all__ = ["display_mode", "make_tqdm"]


def _in_jupyter_kernel() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _has_ipywidgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def display_mode(file) -> str:
    """`"notebook"`, `"stream"`, `"terminal"` or `"log"`: how a bar is shown on `file`."""
    if _in_jupyter_kernel():
        return "notebook" if _has_ipywidgets() else "stream"
    isatty = getattr(file, "isatty", None)
    try:
        if isatty is not None and isatty():
            return "terminal"
    except ValueError:  # a closed file
        return "log"
    if "PYCHARM_HOSTED" in os.environ:
        return "stream"
    return "log"


def make_tqdm(mode: str, render, total, file):
    """A tqdm bar for `mode` ("notebook", "stream" or "terminal") whose text is `render`'s.

    `render(ncols)` returns the line for a width of `ncols` columns (None: unlimited) in the
    text modes, and `(left, right)` (the text before and after the bar) in the notebook.
    The bar shows itself at once; call `refresh()` to redraw, `close()` to end it.
    """
    from tqdm import std

    if mode == "notebook":
        from tqdm import notebook

        class NotebookBar(notebook.tqdm):
            monitor_interval = 0  # no monitor thread: the owner decides when to redraw

            @property
            def format_dict(self):
                d = super().format_dict
                left, right = render(None)
                # The widget keeps spaces from breaking (it turns them into figure spaces);
                # a zero-width space after each separator lets a long line wrap there.
                d.update(keras_left=left, keras_right=right.replace(" - ", " -\u200b "))
                return d

        return NotebookBar(
            total=total, file=file, leave=True, bar_format="{keras_left}{bar}{keras_right}"
        )

    class TextBar(std.tqdm):
        monitor_interval = 0

        @property
        def format_dict(self):
            d = super().format_dict
            d["keras_line"] = render(d["ncols"] if mode == "terminal" else None)
            d["ncols"] = None  # the text is already fitted; tqdm must not trim it
            return d

        def display(self, msg=None, pos=None):
            # One bar at a time, on the first row: tqdm hides bars below the screen's height,
            # and some pseudo-terminals report a height of 0.
            self.nrows = None
            return super().display(msg, pos)

    return TextBar(
        total=total,
        file=file,
        leave=True,
        dynamic_ncols=mode == "terminal",
        bar_format="{keras_line}",
        mininterval=0,
        miniters=1,
    )
