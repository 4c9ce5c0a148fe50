"""Losses: pure functions of `(y_true, y_pred)` giving per-sample values, and `Loss` classes.

A loss class is a thin wrapper over its function; `Loss.__call__` does the rest once:
conversion, the rank fix-up of `y_true`, sample weights, masks and the reduction. Every
step is written with ops, so a loss works eagerly and inside a traced training step.

Example:
    >>> import kerasish as keras
    >>> loss = keras.losses.MeanSquaredError()
    >>> float(loss([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
"""

from __future__ import annotations

import math  # noqa: F401  (module attributes the single-file module exposed)

from backend import dtypes as dt  # noqa: F401
from backend import ops  # noqa: F401

from .classes import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from .functions import (
    _to_hinge_labels,  # noqa: F401
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    l2_normalize,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .loss import (  # noqa: F401
    EPSILON,
    REDUCTIONS,
    Loss,
    _as_float,
    _check_same_shape,
    _count,
    _divide_no_nan,
    _prepare,
    apply_mask,
    reduce_values,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)

# ---- resolution ----------------------------------------------------------------------------

_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
        categorical_hinge, kl_divergence, poisson, binary_crossentropy,
        binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
        sparse_categorical_crossentropy,
    )
}  # fmt: skip
# Keras' short names (keras.losses.get("mse") is mean_squared_error); "logcosh" and
# "kullback_leibler_divergence" are Keras 2 names Keras 3 still exports as legacy.
_ALIASES = {
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence, "kullback_leibler_divergence": kl_divergence,
    "logcosh": log_cosh,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
}  # fmt: skip
_CLASSES = {
    cls.__name__: cls
    for cls in (
        Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError,
        MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, Huber,
        LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
        BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
        CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
    )
}  # fmt: skip
_REGISTRY: dict = {}


def register(cls):
    """Registers a custom Loss class (or function) for `get`/`deserialize` by its name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _known() -> dict:
    return {**_FUNCTIONS, **_ALIASES, **_CLASSES, **_REGISTRY}


def serialize(loss):
    """A Keras-3-style config dict: a class's config, or a built-in function by its full name
    (never a short alias such as "mse", which Keras cannot load)."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}  # fmt: skip
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}")
    return {"module": "keras.losses", "class_name": "function", "config": name,
            "registered_name": "function"}  # fmt: skip


def deserialize(config, custom_objects=None):
    """A loss from `serialize`'s dict (or a bare `{"class_name", "config"}`), or a name."""
    known = {**_known(), **(custom_objects or {})}
    if isinstance(config, str):
        return get(config) if not custom_objects or config not in custom_objects else known[config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret loss config: {config!r}")
    class_name = config["class_name"]
    inner = config.get("config", {})
    if class_name == "function":
        obj = known.get(inner)
        if obj is None:
            raise ValueError(f"Unknown loss function: {inner!r}. Known: {sorted(known)}")
        return obj
    cls = known.get(class_name)
    if cls is None:
        raise ValueError(f"Unknown loss class: {class_name!r}. Known: {sorted(known)}")
    return cls.from_config(dict(inner or {})) if isinstance(cls, type) else cls


def get(identifier):
    """A loss from a name (`"mse"`, `"mean_squared_error"`, `"MeanSquaredError"`), a config
    dict, a Loss instance, a callable or None (stays None). Function names give the
    function, as Keras; class names give an instance. See `resolve` for always a Loss.

    Example:
        >>> import kerasish as keras
        >>> keras.losses.get("mse").__name__, type(keras.losses.get("BinaryCrossentropy"))
        ('mean_squared_error', <class 'kerasish.losses.BinaryCrossentropy'>)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        known = _known()
        obj = known.get(identifier)
        if obj is None:
            raise ValueError(f"Unknown loss: {identifier!r}. Known: {sorted(known)}")
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret loss identifier. Received: {identifier!r}")
    return obj


def resolve(identifier, reduction="sum_over_batch_size"):
    """Like `get`, but always a `Loss` instance (a function is wrapped in a
    `LossFunctionWrapper` named after it), or None: what a trainer calls."""
    obj = get(identifier)
    if obj is None or isinstance(obj, Loss):
        return obj
    return LossFunctionWrapper(obj, reduction=reduction)


# The public classes and functions keep the module path they had when the losses were one
# module (`<class 'kerasish.losses.BinaryCrossentropy'>`, pickles, Lambda configs).
for _public in (*_CLASSES.values(), *_FUNCTIONS.values(), l2_normalize):
    _public.__module__ = __name__
del _public

__all__ = [
    *_CLASSES,
    *_FUNCTIONS,
    *_ALIASES,
    "deserialize",
    "get",
    "register",
    "resolve",
    "serialize",
    "l2_normalize",
]

# Keras exposes the short aliases as module attributes too (`keras.losses.mse`).
globals().update(_ALIASES)
