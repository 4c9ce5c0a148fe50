"""Attention (dot-product, Luong style) and AdditiveAttention (Bahdanau style), as Keras 3
defines them.

Both take `[query, value]` or `[query, value, key]` (key defaults to value), shapes
`(B, Tq, dim)`, `(B, Tv, dim)`, `(B, Tv, dim)`, and `mask=[query_mask, value_mask]` (masks
carried by the inputs are used when no mask is passed). Scores are masked by subtracting 1e9
where the value mask (or the causal mask) is False, softmaxed over the values, optionally
dropped out (training only), and applied to the values; positions where the query mask is
False output 0, and the output carries the query mask. As Keras, a query row with every value
masked is a plain softmax of its scores (each was shifted by the same 1e9).
"""

from __future__ import annotations

import numpy as np

from backend import ops
from backend import random as engine_random
from backend.tensor import Tensor

from .layer import Layer


class Attention(Layer):
    """Dot-product attention: `scores = query @ key^T` (times a trainable `scale` with
    `use_scale`), or with `score_mode="concat"`
    `scores = concat_score_weight * sum(tanh(scale * (query[:, :, None] + key[:, None])))`;
    then `softmax(scores) @ value`. Weights: `scale` (a scalar, with `use_scale`), then
    `concat_score_weight` (a scalar, with `score_mode="concat"`).

    Call arguments: `inputs` (`[query, value]` or `[query, value, key]`), `mask`
    (`[query_mask, value_mask]`), `training`, `return_attention_scores` (then
    `(output, scores)`, scores `(B, Tq, Tv)`), `use_causal_mask`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> query, value = np.random.rand(2, 3, 4), np.random.rand(2, 5, 4)
        >>> out, scores = keras.layers.Attention()([query, value], return_attention_scores=True)
        >>> out.shape, scores.shape
        ((2, 3, 4), (2, 3, 5))
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{name}: `score_mode` must be 'dot' or 'concat'. Received: "
                             f"score_mode={score_mode!r}")  # fmt: skip
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not (0 <= dropout < 1)
        ):
            raise ValueError(f"{name}: `dropout` must be in [0, 1). Received: dropout={dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True

    def _check_inputs(self, shapes, mask=None) -> tuple:
        """(query, value, key) shapes, checked; `shapes` is the list given to the layer."""
        name = f"{type(self).__name__} '{self.name}'"
        if (
            not isinstance(shapes, (list, tuple))
            or not 2 <= len(shapes) <= 3
            or not all(isinstance(shape, (list, tuple)) for shape in shapes)
        ):
            raise ValueError(f"{name} must be called on a list [query, value] or [query, value, "
                             f"key]. Received: {_describe(shapes)}")  # fmt: skip
        shapes = [tuple(s) for s in shapes]
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) == 3 else value
        for arg, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) < 3:
                raise ValueError(f"{name}: `{arg}` must have rank >= 3 (batch, steps, dim). "
                                 f"Received: {arg} shape {shape}")  # fmt: skip
        if query[-1] is not None and key[-1] is not None and query[-1] != key[-1]:
            raise ValueError(f"{name}: `query` and `key` must have the same last dim. "
                             f"Received: query shape {query}, key shape {key}")  # fmt: skip
        if value[-2] is not None and key[-2] is not None and value[-2] != key[-2]:
            raise ValueError(f"{name}: `value` and `key` must have the same number of steps. "
                             f"Received: value shape {value}, key shape {key}")  # fmt: skip
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name}: `mask` must be a list [query_mask, value_mask]. "
                             f"Received: {_describe(mask)}")  # fmt: skip
        return query, value, key

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                shape=(), initializer="ones", name="concat_score_weight"
            )

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        pairs = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(pairs), axis=-1))

    def call(self, inputs, mask=None, training=None, return_attention_scores=False,
             use_causal_mask=False):  # fmt: skip
        self._check_inputs([x.shape for x in inputs], mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        query_mask = mask[0] if mask else None
        value_mask = mask[1] if mask else None
        scores = self._scores(query, key)
        scores_mask = None if value_mask is None else ops.expand_dims(
            ops.cast(value_mask, "bool"), -2)  # fmt: skip
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = _causal(tq, tv) if tq is not None and tv is not None else _counted_causal(
                query, key)  # fmt: skip
            scores_mask = causal if scores_mask is None else ops.logical_and(scores_mask, causal)
        if scores_mask is not None:
            shift = 65504.0 if scores.dtype == "float16" else 1e9
            scores = ops.where(scores_mask, scores, ops.subtract(scores, shift))
        weights = ops.softmax(scores, axis=-1)
        applied = weights
        if training and self.dropout > 0:
            applied = engine_random.dropout(weights, self.dropout, seed=self._seed_generator)
        out = ops.matmul(applied, value)
        if query_mask is not None:
            out = ops.where(ops.expand_dims(ops.cast(query_mask, "bool"), -1), out, 0.0)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        if not mask or mask[0] is None:
            return None
        return ops.convert_to_tensor(mask[0])

    def compute_output_shape(self, input_shape):
        query, value, _ = self._check_inputs(input_shape)
        return (*query[:-1], value[-1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Additive attention: `scores = sum(scale * tanh(query[:, :, None] + key[:, None]),
    axis=-1)`, then `softmax(scores) @ value`, with the masks and call arguments of
    `Attention`. Weights: `scale` `(dim,)` (glorot-uniform), with `use_scale` (the default).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.AdditiveAttention()
        >>> layer([np.random.rand(2, 3, 4), np.random.rand(2, 5, 4)]).shape, layer.scale.shape
        ((2, 3, 4), (4,))
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)  # not an argument of this layer
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        query, _, _ = self._check_inputs(input_shape)
        if query[-1] is None:
            raise ValueError(f"AdditiveAttention '{self.name}': the last dim of `query` must be "
                             f"known. Received: query shape {query}")  # fmt: skip
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(shape=(query[-1],), initializer="glorot_uniform",
                                         name="scale")  # fmt: skip

    def _scores(self, query, key):
        pairs = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.sum(pairs, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["score_mode"]
        return config


def _causal(tq: int, tv: int):
    """`(1, Tq, Tv)`: True where the value step is not after the query step."""
    return Tensor(np.tril(np.ones((tq, tv), dtype=bool))[None])


def _counted_causal(query, key):
    """The causal mask for unknown lengths, from positions counted at run time."""
    rows = ops.cumsum(ops.ones_like(ops.sum(query, axis=-1), dtype="int32"), axis=1)
    cols = ops.cumsum(ops.ones_like(ops.sum(key, axis=-1), dtype="int32"), axis=1)
    return ops.greater_equal(ops.expand_dims(rows, -1), ops.expand_dims(cols, -2))


def _describe(value) -> str:
    if isinstance(value, tuple) and all(isinstance(d, int) or d is None for d in value):
        return f"one tensor of shape {value}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"
