"""Checks of the data `fit`/`evaluate`/`predict` receive against the model, with messages
that say what to change: a single sample given without its batch axis, and raw pixel values
(0 to 255) given to a model that expects them scaled."""

from __future__ import annotations

import warnings

import numpy as np

from backend import nest

#: Rows of `x` the pixel-value check looks at (the first ones): enough to tell, cheap on any
#: data set.
SCALE_CHECK_ROWS = 256

#: First layers that take unscaled values on purpose (token ids, raw features they
#: normalize themselves, or layers that rescale).
_TAKES_RAW_VALUES = (
    "Embedding",
    "Rescaling",
    "Normalization",
    "CategoryEncoding",
    "Discretization",
    "Hashing",
    "IntegerLookup",
    "StringLookup",
    "TextVectorization",
)


#: Layers that move, crop or resize pixels without scaling them: a model may put them before
#: the layer that rescales (Keras' own examples do), so the check looks past them.
_KEEPS_VALUES = (
    "InputLayer",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomCrop",
    "Resizing",
    "CenterCrop",
)


def _first_scaling_layer_name(model):
    """The class name of the first layer of `model` that may change the scale of its input,
    looking past augmentation and resizing layers and into a nested Sequential or model
    first; None when there is none."""
    for layer in getattr(model, "layers", []):
        name = type(layer).__name__
        if name in _KEEPS_VALUES:
            continue
        if getattr(layer, "layers", None):  # a nested model, e.g. a Sequential of augmentations
            inner = _first_scaling_layer_name(layer)
            if inner is not None:
                return inner
            continue
        return name
    return None


def _model_inputs(model) -> list:
    """The model's Input specs (shape, name) when it has them (a built functional or
    Sequential model), else an empty list."""
    return list(getattr(model, "inputs", None) or [])


def _arrays(x) -> list:
    """The numpy arrays of `x`, the data `make_batches` converted."""
    return [a for a in nest.flatten(x) if isinstance(a, np.ndarray)]


def check_batch_axis(model, x) -> None:
    """Raises a ValueError suggesting `x[None]` when `x` is one sample of the model's single
    input: the input's shape without its batch axis, e.g. `(784,)` for `(None, 784)`."""
    inputs = _model_inputs(model)
    arrays = _arrays(x)
    if len(inputs) != 1 or len(arrays) != 1:
        return
    spec, array = inputs[0], arrays[0]
    expected = tuple(spec.shape)
    if len(expected) < 2 or array.ndim != len(expected) - 1 or array.size < 2:
        return  # one value for an input of shape (None, 1) is a batch of one, as in Keras
    if all(e is None or e == s for e, s in zip(expected[1:], array.shape, strict=True)):
        raise ValueError(
            f"Model '{model.name}': input '{spec.name}' expects a batch of samples of shape "
            f"{expected} (the first axis counts the samples). Received: one sample of shape "
            f"{array.shape}, without the batch axis. Add it: x[None] (or "
            f"np.expand_dims(x, 0)) for one sample."
        )


def warn_if_unscaled(model, x) -> None:
    """Warns once per model when float inputs look like raw pixel values: whole numbers from
    0 to 255 reaching more than 1, where the model's first layer does not rescale them (after
    any augmentation or resizing layers, which keep the values' scale)."""
    if getattr(model, "_warned_unscaled", False):
        return
    if _first_scaling_layer_name(model) in _TAKES_RAW_VALUES:
        return
    inputs = _model_inputs(model)
    if any(str(getattr(spec, "dtype", "float32")).startswith(("int", "uint", "bool", "str"))
           for spec in inputs):  # fmt: skip
        return
    for array in _arrays(x):
        if array.dtype.kind not in "fiu" or array.size == 0:
            continue
        sample = np.asarray(array[:SCALE_CHECK_ROWS], dtype=np.float64)
        if not np.isfinite(sample).all():
            continue  # the data checks report these
        low, high = float(sample.min()), float(sample.max())
        if low >= 0 and 1 < high <= 255 and np.array_equal(sample, np.round(sample)):
            model._warned_unscaled = True
            warnings.warn(
                f"Model '{model.name}': the input data holds whole numbers from {low:g} to "
                f"{high:g}, which look like raw pixel values; a model trains badly on them. "
                f"Scale them to [0, 1] (x / 255), or make "
                f"keras.layers.Rescaling(1 / 255) the model's first layer. (Shown once.)",
                UserWarning,
                stacklevel=3,
            )
            return


def check_data(model, batches, training: bool = False) -> None:
    """The checks above on the arrays behind `batches` (array data only: a generator's or a
    PyDataset's batches are not looked at): the batch axis always, the pixel values when
    `training`."""
    x = getattr(batches, "x", None)
    if x is None:
        return
    check_batch_axis(model, x)
    if training:
        warn_if_unscaled(model, x)
