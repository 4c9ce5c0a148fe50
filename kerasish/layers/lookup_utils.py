"""What the lookup layers and TextVectorization share besides the vocabulary itself: their
argument checks, and the numpy encodings of indices (one-hot, multi-hot, count, TF-IDF) with
Keras' inverse document frequency."""

from __future__ import annotations

import numpy as np

from backend import config as engine_config
from backend.tensor import Tensor

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}


class RaggedRows(list):
    """Token lists of different lengths, one per string (what splitting text gives)."""


def check_output_mode(layer: str, output_mode) -> str:
    output_mode = _ALIASES.get(output_mode, output_mode)
    if output_mode not in OUTPUT_MODES:
        raise ValueError(
            f"{layer}: `output_mode` must be one of {OUTPUT_MODES}. Received: "
            f"output_mode={output_mode!r}"
        )
    return output_mode


def check_max_tokens(layer: str, max_tokens, pad_to_max_tokens) -> None:
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, (int, np.integer))
        or max_tokens <= 1
    ):
        raise ValueError(
            f"{layer}: if set, `max_tokens` must be an integer greater than 1. Received: "
            f"max_tokens={max_tokens!r}"
        )
    if pad_to_max_tokens and max_tokens is None:
        raise ValueError(
            f"{layer}: `pad_to_max_tokens=True` needs `max_tokens`. Received: max_tokens=None"
        )


def check_not_sparse(layer: str, sparse) -> None:
    if sparse:
        raise ValueError(
            f"{layer}: `sparse=True` needs sparse tensors, which kerasish does not have (Keras "
            f"too allows it only on its TensorFlow backend). Received: sparse={sparse!r}"
        )


def listify(value):
    """Arrays and tuples in a config as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def is_batch_iterable(data) -> bool:
    """An iterable of batches (a generator, a dataset), not data itself."""
    return hasattr(data, "__iter__") and not isinstance(
        data, (list, tuple, np.ndarray, str, bytes, Tensor)
    )


def one_hot(indices: np.ndarray, depth: int) -> np.ndarray:
    """One int32 vector of `depth` entries per index (a trailing axis of size 1 is
    dropped first); indices outside [0, depth) give a vector of zeros."""
    if indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    out = np.zeros(indices.shape + (depth,), np.int32)
    valid = (indices >= 0) & (indices < depth)
    out.reshape(-1, depth)[np.flatnonzero(valid), indices[valid]] = 1
    return out


def bag_encoding(flat, lengths, mode: str, depth: int, idf=None) -> np.ndarray:
    """`"multi_hot"`, `"count"` (int32) or `"tf_idf"` (`count * idf`, floatx) vectors of
    `depth` entries, one per row: row i holds the next `lengths[i]` indices of `flat`;
    indices outside [0, depth) count nowhere."""
    rows = np.repeat(np.arange(len(lengths)), lengths)
    valid = (flat >= 0) & (flat < depth)
    cells = rows[valid] * depth + flat[valid]
    counts = np.bincount(cells, minlength=len(lengths) * depth).astype(np.int32)
    counts = counts.reshape(len(lengths), depth)
    if mode == "multi_hot":
        return (counts > 0).astype(np.int32)
    if mode == "count":
        return counts
    floatx = engine_config.floatx()
    return counts.astype(floatx) * np.asarray(idf, floatx)


def learned_idf_weights(frequency, num_documents: int, num_special: int, pad_to=None):
    """Keras' IDF weights: `log(1 + documents / (1 + documents holding the token))` per
    token, computed in float64 and stored in floatx; the `num_special` OOV entries in front
    get the tokens' mean weight, and zeros pad the result to `pad_to` entries."""
    floatx = engine_config.floatx()
    frequency = np.asarray(frequency, np.float64)
    weights = np.log(1.0 + num_documents / (1.0 + frequency)).astype(floatx)
    mean = weights.mean(dtype=floatx) if len(weights) else np.array(np.nan, floatx)
    weights = np.concatenate([np.full(num_special, mean, floatx), weights])
    if pad_to is not None:
        weights = np.pad(weights, (0, pad_to - len(weights)))
    return weights


def given_idf_weights(owner: str, idf_weights, vocabulary_length: int, front: int, pad_to=None):
    """IDF weights given with a vocabulary, checked (one per entry) and padded: `front`
    entries of their mean for the OOV indices when the vocabulary came without its special
    tokens, and zeros up to `pad_to` entries; in floatx."""
    weights = np.asarray(idf_weights, dtype=np.float64)
    if weights.ndim != 1:
        raise ValueError(f"{owner}: `idf_weights` must be 1-D. Received: shape {weights.shape}")
    if len(weights) != vocabulary_length:
        raise ValueError(
            f"{owner}: `idf_weights` must have one weight per vocabulary entry. Received: "
            f"{len(weights)} weights for a vocabulary of {vocabulary_length}"
        )
    mean = float(np.average(weights)) if front else 0.0
    back = 0 if pad_to is None else pad_to - front - len(weights)
    return np.pad(weights, (front, back), constant_values=(mean, 0.0)).astype(
        engine_config.floatx()
    )
