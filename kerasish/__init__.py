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

from . import (  # noqa: E402
    activations,
    callbacks,
    config,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from .layers import Input, Layer  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GradientTape", "Input", "Layer", "Model", "Sequential", "Tensor", "Variable",
    "activations", "backend", "callbacks", "config", "constraints", "datasets", "initializers",
    "layers", "losses", "metrics", "models", "ops", "optimizers", "preprocessing", "random",
    "regularizers", "saving", "utils",
]  # fmt: skip
