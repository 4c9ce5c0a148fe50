"""Ctrl-C during `fit`: the step that is running finishes, then training stops cleanly.

While `fit` runs in the main thread, the first SIGINT only records that it came (and says so
on stderr); the loop raises `KeyboardInterrupt` after the current step, so the weights are
those of a completed step, never of one half applied. The handler that was installed before
is put back at once, so a second Ctrl-C interrupts immediately (a step stuck compiling).
"""

from __future__ import annotations

import signal
import sys
import threading


class deferred_interrupts:
    """Context manager: a SIGINT inside becomes a pending interrupt, raised by
    `raise_if_pending()` at the next safe point (after a step)."""

    def __init__(self):
        self.pending = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach only the main thread: nothing to defer
        previous = signal.getsignal(signal.SIGINT)
        if previous is not signal.default_int_handler:
            return self  # the program handles SIGINT its own way: leave it alone
        self._previous = previous
        signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum, frame):
        self.pending = True
        self._restore()
        sys.stderr.write(
            "\nInterrupted: training stops after the current step (Ctrl-C again stops at once).\n"
        )

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def raise_if_pending(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        self._restore()
        return False
