"""`pad_sequences`: lists of sequences of different lengths as one padded numpy array."""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0) -> np.ndarray:  # fmt: skip
    """Pads (and truncates) sequences to one length, as `keras.utils.pad_sequences`.

    Returns an array of shape `(len(sequences), maxlen, *sample_shape)`; `maxlen` defaults
    to the longest sequence. Shorter sequences are padded with `value`, before them
    (`padding="pre"`, the default) or after (`"post"`); longer ones lose their first
    (`truncating="pre"`, the default) or last (`"post"`) steps. A sequence's elements may
    themselves be arrays (`sample_shape`, taken from the first non-empty sequence). For
    strings use `dtype=object`.

    Example:
        >>> import kerasish as keras
        >>> keras.utils.pad_sequences([[1], [2, 3], [4, 5, 6]])
        array([[0, 0, 1],
               [0, 2, 3],
               [4, 5, 6]], dtype=int32)
        >>> keras.utils.pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post")
        array([[1, 0],
               [2, 3],
               [5, 6]], dtype=int32)
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"pad_sequences: `sequences` must be a list of sequences. Received: "
            f"sequences={sequences!r:.100} (of type {type(sequences).__name__})"
        )
    if dtype is not object:
        try:
            np.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"pad_sequences: `dtype` is not a numpy dtype. Received: dtype={dtype!r}"
            ) from None
    for arg, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(
                f"pad_sequences: `{arg}` must be 'pre' or 'post'. Received: {arg}={given!r}"
            )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0
    ):
        raise ValueError(
            f"pad_sequences: `maxlen` must be None or an integer >= 0. Received: maxlen={maxlen!r}"
        )
    is_text_dtype = dtype is not object and np.dtype(dtype).kind in "US"
    if isinstance(value, str) and dtype is not object and not is_text_dtype:
        raise ValueError(
            f"pad_sequences: `value` {value!r} is a string but `dtype` is {dtype!r}: use "
            "dtype=object for variable-length strings."
        )
    lengths = []
    sample_shape = None
    for index, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ValueError(
                "pad_sequences: `sequences` must be a list of sequences (lists or arrays). "
                f"Received: {seq!r} at position {index}"
            ) from None
        if sample_shape is None and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError(
                "pad_sequences: `sequences` is empty, so `maxlen` must be given to know the "
                "output's length."
            )
        maxlen = max(lengths)
    out = np.full((len(sequences), maxlen, *sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for index, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: every step must have shape {sample_shape} (the first "
                f"non-empty sequence's). Received: shape {kept.shape[1:]} in the sequence at "
                f"position {index}"
            )
        if padding == "post":
            out[index, : len(kept)] = kept
        else:
            out[index, -len(kept) :] = kept
    return out
