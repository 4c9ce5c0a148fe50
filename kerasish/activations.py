"""Activation functions with Keras 3's names, definitions and defaults.

Every activation is written with engine ops, so it works eagerly, on symbolic inputs and
inside compiled steps, and differentiates through the engine. Note two Keras defaults that
differ from `keras.ops`: `gelu` is exact (`approximate=False`) and `leaky_relu`'s slope
is 0.2 (the LeakyReLU *layer* uses 0.3).

Example:
    >>> import kerasish as keras
    >>> keras.activations.get("relu")([-1.0, 2.0]).numpy().tolist()
    [0.0, 2.0]
    >>> keras.activations.serialize(keras.activations.get("swish"))
    'silu'
"""

from __future__ import annotations

from backend import dtypes as dt
from backend import ops

from .saving.object_registry import UnknownIdentifierError


def _tensor(x):
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else ops.convert_to_tensor(x)


def _float(x):
    x = _tensor(x)
    return x if dt.is_float(x.dtype) else ops.cast(x, dt.config.floatx())


def linear(x):
    """The identity (what `activation=None` means)."""
    return _tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: `max(x, 0)` by default, as Keras' `relu`.

    Below `threshold` the output is `negative_slope * (x - threshold)` (0 by default);
    `max_value` caps the output.

    Example:
        >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0], max_value=5.0).numpy().tolist()
        [0.0, 0.0, 0.0, 5.0, 5.0]
    """
    x = _float(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    negative_part = None
    if negative_slope != 0.0:
        shifted = ops.add(ops.negative(x), threshold) if threshold != 0 else ops.negative(x)
        negative_part = ops.relu(shifted)
    if threshold != 0:
        y = ops.where(ops.greater(x, threshold), x, ops.zeros_like(x))
    else:
        y = ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0.0, float(max_value))
    if negative_part is not None:
        y = ops.subtract(y, ops.multiply(negative_slope, negative_part))
    return y


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return ops.relu6(_float(x))


def leaky_relu(x, negative_slope=0.2):
    """`x` if `x > 0` else `negative_slope * x` (slope 0.2 by default, as Keras)."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def sigmoid(x):
    """`1 / (1 + exp(-x))`, without overflow."""
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """Piecewise-linear sigmoid: `relu6(x + 3) / 6`.

    Example:
        >>> hard_sigmoid([-4.0, 0.0, 4.0]).numpy().tolist()
        [0.0, 0.5, 1.0]
    """
    return ops.divide(ops.relu6(ops.add(_float(x), 3.0)), 6.0)


def hard_silu(x):
    """Hard SiLU (hard swish): `x * hard_sigmoid(x)`."""
    x = _float(x)
    return ops.multiply(x, hard_sigmoid(x))


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` over `axis`, shifted by the max so it never overflows."""
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """`x - logsumexp(x)` over `axis`."""
    return ops.log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    """`x` if `x > 0` else `alpha * (exp(x) - 1)`."""
    return ops.elu(x, alpha=alpha)


def selu(x):
    """Scaled ELU with the self-normalizing constants (alpha 1.6733, scale 1.0507)."""
    return ops.selu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit `0.5 * x * (1 + erf(x / sqrt(2)))`; exact by default
    (unlike `ops.gelu`), the tanh form with `approximate=True`."""
    return ops.gelu(x, approximate=approximate)


def silu(x):
    """SiLU (swish): `x * sigmoid(x)`."""
    return ops.silu(x)


def softplus(x):
    """`log(1 + exp(x))`, computed stably."""
    return ops.softplus(x)


def softsign(x):
    """`x / (|x| + 1)`."""
    x = _float(x)
    return ops.divide(x, ops.add(ops.abs(x), 1.0))


def exponential(x):
    """`exp(x)`."""
    return ops.exp(_float(x))


def mish(x):
    """`x * tanh(softplus(x))`."""
    x = _float(x)
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


def celu(x, alpha=1.0):
    """`x` if `x > 0` else `alpha * (exp(x / alpha) - 1)`."""
    x = _float(x)
    # exp of the clamped value keeps the unselected branch finite.
    negative = ops.multiply(
        alpha, ops.subtract(ops.exp(ops.divide(ops.minimum(x, 0.0), alpha)), 1.0)
    )
    return ops.where(ops.greater(x, 0.0), x, negative)


def log_sigmoid(x):
    """`log(sigmoid(x)) = -softplus(-x)`."""
    return ops.log_sigmoid(x)


def hard_tanh(x):
    """`clip(x, -1, 1)`."""
    return ops.clip(_float(x), -1.0, 1.0)


def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = _float(x)
    return ops.subtract(x, ops.tanh(x))


def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2`."""
    x = _float(x)
    return ops.divide(ops.add(x, ops.sqrt(ops.add(ops.square(x), float(b)))), 2.0)


def sparse_plus(x):
    """0 for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    x = _float(x)
    middle = ops.divide(ops.square(ops.add(ops.clip(x, -1.0, 1.0), 1.0)), 4.0)
    return ops.where(ops.greater_equal(x, 1.0), x, middle)


def sparse_sigmoid(x):
    """`clip((x + 1) / 2, 0, 1)`."""
    return ops.clip(ops.multiply(0.5, ops.add(_float(x), 1.0)), 0.0, 1.0)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, else 0."""
    x = _float(x)
    zero = ops.zeros_like(x)
    shrunk = ops.where(ops.less(x, -threshold), ops.add(x, threshold), zero)
    return ops.where(ops.greater(x, threshold), ops.subtract(x, threshold), shrunk)


def hard_shrink(x, threshold=0.5):
    """`x` where `|x| > threshold`, else 0."""
    x = _float(x)
    return ops.where(ops.greater(ops.abs(x), threshold), x, ops.zeros_like(x))


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    x = _float(x)
    return ops.where(ops.greater(x, threshold), x, ops.full_like(x, default_value))


def glu(x, axis=-1):
    """Gated linear unit: `a * sigmoid(b)`, `a` and `b` the two halves of `x` on `axis`."""
    x = _float(x)
    if x.shape[axis] is not None and x.shape[axis] % 2:
        raise ValueError(
            f"glu: the size of `axis` must be even. Received: x.shape={tuple(x.shape)}, axis={axis}"
        )
    a, b = ops.split(x, 2, axis=axis)
    return ops.multiply(a, ops.sigmoid(b))


# ---- resolution ----------------------------------------------------------------------------

# Canonical name -> function; `serialize` gives these names.
_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (
        linear, relu, relu6, leaky_relu, sigmoid, hard_sigmoid, hard_silu, tanh, softmax,
        log_softmax, elu, selu, gelu, silu, softplus, softsign, exponential, mish, celu,
        log_sigmoid, hard_tanh, tanh_shrink, squareplus, sparse_plus, sparse_sigmoid,
        soft_shrink, hard_shrink, threshold, glu,
    )
}  # fmt: skip
_ALIASES = {"swish": silu, "hard_swish": hard_silu}
_REGISTRY: dict = {}

# Keras exposes the aliases as module attributes too (`keras.activations.swish`).
swish = silu
hard_swish = hard_silu


def register(fn):
    """Registers a custom activation for `get`/`deserialize` by its `__name__`; usable as a
    decorator."""
    _REGISTRY[fn.__name__] = fn
    return fn


def _known() -> dict:
    return {**_ACTIVATIONS, **_ALIASES, **_REGISTRY}


def serialize(activation) -> str:
    """The name of an activation: the canonical name of a built-in (`swish` gives
    `"silu"`), else the registered or `__name__` of a custom callable."""
    for name, fn in {**_ACTIVATIONS, **_REGISTRY}.items():
        if fn is activation:
            return name
    if hasattr(activation, "get_config"):
        return {"class_name": type(activation).__name__, "config": activation.get_config()}
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: it has no name.")
    return name


def deserialize(config, custom_objects=None):
    """An activation from a name or a `{"class_name": "function", "config": name}` dict."""
    known = {**_known(), **(custom_objects or {})}
    name = config
    if isinstance(config, dict):
        name = config.get("config") if config.get("class_name") == "function" else None
        name = name or config.get("class_name")
    if not isinstance(name, str) or name not in known:
        raise UnknownIdentifierError(
            f"Unknown activation: {config!r}. Known activations: {sorted(known)}", config
        )
    return known[name]


def get(identifier):
    """An activation from a name (aliases included), a config dict, a callable, or None
    (which is `linear`).

    Example:
        >>> get(None) is linear, get("hard_swish") is hard_silu
        (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise UnknownIdentifierError(
        f"Could not interpret activation function identifier: {identifier!r}", identifier
    )


__all__ = [*_ACTIVATIONS, *_ALIASES, "deserialize", "get", "register", "serialize"]
