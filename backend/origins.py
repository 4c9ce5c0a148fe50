"""Where the ops of a traced graph came from, for messages about them (the NaN checks).

While a function is traced, each recorded node is tagged with its origin: the path of the
layer calls it was made in (`"model/dense_1"`, supplied by the API layer through
`set_origin_provider`), or `"gradient of model/dense_1"` for the nodes a backward pass adds
for that layer's ops. Tags live in the Trace (compile time only); a Plan keeps one string per
step. Nothing here runs when a Plan runs.
"""

from __future__ import annotations

import threading

_provider = None  # () -> str | None: the layer path of the call in progress


class _Scopes(threading.local):
    def __init__(self):
        self.stack = []  # origins that override the provider (backward passes)


_scopes = _Scopes()


class NonFiniteError(FloatingPointError):
    """A NaN or Inf computed while the NaN checks are on (`config.enable_nan_checks()`):
    `op`, `origin` (the layer path) and `plan_step` say where it first appeared."""

    def __init__(self, message: str, op: str = "", origin: str = "", plan_step: int = -1):
        super().__init__(message)
        self.op, self.origin, self.plan_step = op, origin, plan_step


def set_origin_provider(provider) -> None:
    """Registers the function that names the layer call in progress (or returns None)."""
    global _provider
    _provider = provider


def current_origin() -> str | None:
    if _scopes.stack:
        return _scopes.stack[-1]
    return _provider() if _provider is not None else None


class gradient_of:
    """Context manager: nodes recorded inside are tagged as the gradient of `origin`'s ops."""

    def __init__(self, origin: str | None):
        self.origin = f"gradient of {origin}" if origin else "gradient"

    def __enter__(self):
        _scopes.stack.append(self.origin)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()
        return False
