"""kerasish: the Keras API on an engine of our own (numpy + Numba, CPU).

Use it as Keras: `import kerasish as keras`.
"""

import importlib as _importlib
import sys as _sys


def _load_engine():
    engine = _importlib.import_module("backend")
    if not getattr(engine, "__kerasish_engine__", False):
        location = getattr(engine, "__file__", None) or list(getattr(engine, "__path__", []))
        raise ImportError(
            "kerasish found a module named 'backend' that is not its engine, at "
            f"{location}. A file or folder of your own called 'backend' is shadowing "
            "kerasish's engine: rename it, or run Python from another directory."
        )
    return engine


backend = _load_engine()
# `import kerasish.backend` and `from kerasish.backend import compiler` name the engine too.
_sys.modules[__name__ + ".backend"] = backend

from backend import GradientTape, Tensor, Variable  # noqa: E402

#: The public submodules. They load on first use (`keras.layers`, `from kerasish import
#: layers`, `import kerasish.layers`), all at once, so `import kerasish` itself costs little more
#: than the engine; the names below them (`keras.Sequential`, ...) load them too.
_SUBMODULES = (
    "activations", "callbacks", "config", "constraints", "datasets", "initializers", "layers",
    "losses", "metrics", "models", "ops", "optimizers", "preprocessing", "random",
    "regularizers", "saving", "utils",
)  # fmt: skip
_FROM_SUBMODULES = {"Input": "layers", "Layer": "layers", "Model": "models",
                    "Sequential": "models"}  # fmt: skip


_loading = []  # not empty while _load_submodules runs


def _load_submodules() -> None:
    _loading.append(True)
    try:
        for name in _SUBMODULES:
            _importlib.import_module(f"{__name__}.{name}")
        for name, module in _FROM_SUBMODULES.items():
            globals()[name] = getattr(_sys.modules[f"{__name__}.{module}"], name)
    finally:
        _loading.pop()


def __getattr__(name: str):
    if name in _SUBMODULES and _loading:  # a submodule's own `from .. import x`
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _SUBMODULES or name in _FROM_SUBMODULES:
        _load_submodules()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "GradientTape", "Input", "Layer", "Model", "Sequential", "Tensor", "Variable",
    "activations", "backend", "callbacks", "config", "constraints", "datasets", "initializers",
    "layers", "losses", "metrics", "models", "ops", "optimizers", "preprocessing", "random",
    "regularizers", "saving", "utils",
]  # fmt: skip
