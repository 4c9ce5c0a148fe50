"""MultiHeadAttention, with Keras 3's arguments, weight layout, masks and config.

The projections are sublayers named as Keras' (`query`, `key`, `value`, `gate` with
`use_gate`, `attention_output`), each a kernel `(in, heads, dim)` (the output's
`(heads, value_dim, *output_shape)`) and a bias over the output dims, so `get_weights()`
matches Keras' order and shapes. Attention runs over the sequence axis as batched matmuls
around the fused softmax; other `attention_axes` run Keras' general einsum equations.

Masks, as Keras combines them: the query's own mask (`[B, T, 1]`), the value's and the
key's (`[B, 1, S]`, taken from the tensors when not passed), the causal mask, a
`sliding_window` band and `attention_mask`, all ANDed. Masked scores are set to -1e9 before
the softmax and their probabilities to 0 after it, so a query row with no visible key
attends to nothing (Keras' own scores path; its fused path, used when neither dropout nor
`return_attention_scores` is set, spreads such a row evenly over every key instead). The
output carries the query's mask.
"""

from __future__ import annotations

import math
import string

import numpy as np

from backend import ops
from backend import random as engine_random
from backend.tensor import Tensor

from .. import activations, constraints, initializers, regularizers
from .convolutional import serialize_or_none
from .layer import Layer, layer_path


def _known(dims) -> bool:
    return sum(d is None for d in dims) <= 1


def _fill(dims) -> tuple:
    return tuple(-1 if d is None else d for d in dims)


class _HeadProjection(Layer):
    """`x (..., *in_dims) -> (..., *units)` with a kernel `(*in_dims, *units)` and a bias
    `(*units)`: Keras' EinsumDense as MultiHeadAttention builds it, the product over the last
    `in_rank` axes of x."""

    def __init__(self, in_rank: int, units: tuple, use_bias: bool, common: dict,
                 activation=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.in_rank, self.units, self.use_bias = in_rank, tuple(units), use_bias
        self.activation = activations.get(activation)
        self.common = common

    def build(self, input_shape):
        in_dims = tuple(input_shape[-self.in_rank :])
        c = self.common
        self.kernel = self.add_weight(
            shape=in_dims + self.units, initializer=c["kernel_initializer"],
            regularizer=c["kernel_regularizer"], constraint=c["kernel_constraint"],
            name="kernel",
        )  # fmt: skip
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self.units, initializer=c["bias_initializer"],
                regularizer=c["bias_regularizer"], constraint=c["bias_constraint"], name="bias",
            )  # fmt: skip
        self._in_dims = in_dims

    def project(self, x):
        lead = tuple(x.shape[: len(x.shape) - self.in_rank])
        n_in, n_out = math.prod(self._in_dims), math.prod(self.units)
        kernel = ops.reshape(self.kernel, (n_in, n_out))
        if _known(lead):
            flat = x if self.in_rank == 1 else ops.reshape(x, _fill(lead) + (n_in,))
            y = ops.matmul(flat, kernel)
            y = y if len(self.units) == 1 else ops.reshape(y, _fill(lead) + self.units)
        else:
            # Several unknown leading dims (a graph being built with unknown sequence
            # lengths; compiled steps see concrete shapes): broadcast matmuls, no reshape.
            y = self._project_broadcast(x)
        if self.bias is not None:
            y = ops.add(y, self.bias)
        y = self.activation(y)
        regularizer = self.common["activity_regularizer"]
        if regularizer is not None:
            batch = y.shape[0] or 1
            self.add_loss(ops.divide(regularizer(y), float(batch)))
        return y

    def _project_broadcast(self, x):
        if self.in_rank == 1:  # (..., 1, d) @ (N, d, H) -> (..., N, 1, H) -> (..., N, H)
            kernel = ops.transpose(self.kernel, (1, 0, 2))
            y = ops.matmul(ops.expand_dims(ops.expand_dims(x, -2), -3), kernel)
            return ops.squeeze(y, -2)
        # (..., N, 1, Hv) @ (N, Hv, out) summed over N.
        out = math.prod(self.units)
        kernel = ops.reshape(self.kernel, self._in_dims + (out,))
        y = ops.sum(ops.squeeze(ops.matmul(ops.expand_dims(x, -2), kernel), -2), axis=-2)
        return y if len(self.units) == 1 else ops.reshape(y, tuple(y.shape[:-1]) + self.units)


def _attention_equations(rank: int, attention_axes: tuple):
    """Keras' einsum equations for attention over `attention_axes` of projected tensors of
    rank `rank` (batch, ..., heads, channels): (key, query -> scores, scores, value -> out)."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attention_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attention_axes]
                      + [source[i] for i in attention_axes])  # fmt: skip
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017). `query` (B, T, dim), `value` (B, S, dim)
    and `key` (B, S, dim; `value` when omitted) are projected to `num_heads` heads of
    `key_dim` (query, key) and `value_dim` (value) features; each head computes
    `softmax(q k^T / sqrt(key_dim)) v` under the masks, and the heads are projected back to
    `output_shape` (the query's last dim by default). Dropout (training only) applies to the
    attention probabilities.

    Weights, in order: query kernel `(dim, heads, key_dim)` and bias `(heads, key_dim)`, key
    kernel and bias, (gate kernel and bias with `use_gate`), value kernel
    `(dim, heads, value_dim)` and bias, output kernel `(heads, value_dim, *output_shape)`
    and bias `output_shape`.

    Call arguments: `query, value, key=None, query_mask=None, value_mask=None,
    key_mask=None, attention_mask=None` (bool `(B, T, S)`, True: attend),
    `return_attention_scores=False` (then `(output, scores)`, scores `(B, heads, T, S)`),
    `training=None`, `use_causal_mask=False`. Masks carried by the inputs are used as Keras
    uses them; see the module's documentation.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = np.random.rand(3, 5, 8).astype("float32")
        >>> out, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
        >>> out.shape, scores.shape, [tuple(w.shape) for w in layer.weights][:2]
        ((3, 5, 8), (3, 2, 5, 5), [(8, 2, 4), (2, 4)])
        >>> float(scores.numpy()[0, 0, 0, 1])  # the first position sees only itself
        0.0
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "MultiHeadAttention"
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{owner}: `{arg}` must be a positive integer. Received: "
                                 f"{arg}={value!r}")  # fmt: skip
        if value_dim is not None and (
            isinstance(value_dim, bool) or not isinstance(value_dim, int) or value_dim <= 0
        ):
            raise ValueError(f"{owner}: `value_dim` must be a positive integer or None. "
                             f"Received: value_dim={value_dim!r}")  # fmt: skip
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not (0 <= dropout < 1)
        ):
            raise ValueError(f"{owner}: `dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if flash_attention and dropout > 0:
            raise ValueError(f"{owner}: dropout is not supported with flash_attention=True. "
                             f"Received: dropout={dropout}")  # fmt: skip
        if sliding_window is not None and (
            isinstance(sliding_window, bool) or not isinstance(sliding_window, int)
            or sliding_window <= 0
        ):  # fmt: skip
            raise ValueError(f"{owner}: `sliding_window` must be None or a positive integer. "
                             f"Received: sliding_window={sliding_window!r}")  # fmt: skip
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim or key_dim
        self.dropout, self.use_bias, self.use_gate = float(dropout), bool(use_bias), bool(use_gate)
        self._output_shape = _check_output_shape(output_shape)
        self.attention_axes = _check_attention_axes(attention_axes)
        self.sliding_window, self.seed = sliding_window, seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True

    # ---- building ----------------------------------------------------------------------------

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise ValueError(
                f"MultiHeadAttention '{self.name}' needs `value` (and optionally "
                "`key`): call it as layer(query, value). Received: value=None"
            )
        query = self._convert_inputs(query)
        value = self._convert_inputs(value)
        key = None if key is None else self._convert_inputs(key)
        if not self.built:
            with layer_path(self.name):
                self.build(tuple(query.shape), tuple(value.shape),
                           None if key is None else tuple(key.shape))  # fmt: skip
            self.built = True
        return super().__call__(query, value=value, key=key, **kwargs)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(f"MultiHeadAttention '{self.name}': build needs the query and "
                             "value shapes. Received: value_shape=None")  # fmt: skip
        key_shape = value_shape if key_shape is None else key_shape
        query_shape, value_shape, key_shape = (tuple(s) for s in (query_shape, value_shape,
                                                                  key_shape))  # fmt: skip
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': `{arg}` must have rank >= 3 (batch, "
                    f"sequence..., features) and a known last dim. Received: {arg} shape {shape}"
                )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `value` and `key` must have the same "
                f"dims except the last. Received: value_shape={value_shape}, "
                f"key_shape={key_shape}"
            )
        if len(query_shape) != len(value_shape):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `query` and `value` must have the same rank. "
                f"Received: query_shape={query_shape}, value_shape={value_shape}"
            )
        common = {
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
            "activity_regularizer": self.activity_regularizer,
        }
        heads = self.num_heads

        def projection(name, units, shape, in_rank=1, activation=None):
            layer = _HeadProjection(in_rank, units, self.use_bias, common, activation,
                                    name=name, dtype=self.dtype)  # fmt: skip
            with layer_path(name):
                layer.build(shape)
            layer.built = True
            return layer

        self._query_dense = projection("query", (heads, self.key_dim), query_shape)
        self._key_dense = projection("key", (heads, self.key_dim), key_shape)
        self._gate_dense = None
        if self.use_gate:
            self._gate_dense = projection("gate", (heads, self.value_dim), query_shape,
                                          activation="sigmoid")  # fmt: skip
        self._value_dense = projection("value", (heads, self.value_dim), value_shape)
        out_units = self._output_shape or (query_shape[-1],)
        heads_shape = query_shape[:-1] + (heads, self.value_dim)
        self._output_dense = projection("attention_output", out_units, heads_shape, in_rank=2)
        rank = len(query_shape) + 1  # of the projected tensors
        axes = self.attention_axes
        axes = tuple(range(1, rank - 2)) if axes is None else tuple(
            a if a >= 0 else (rank - 1) + a for a in axes)  # fmt: skip
        if any(not 1 <= a < rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `attention_axes` must be distinct axes of "
                f"the inputs between the batch and the feature axes. Received: "
                f"attention_axes={self.attention_axes} for inputs of shape {query_shape}"
            )
        self._axes = tuple(sorted(axes))
        self._equations = _attention_equations(rank, self._axes)
        self._shapes = (query_shape, value_shape, key_shape)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape:
            return query_shape[:-1] + self._output_shape
        return query_shape

    # ---- calling -----------------------------------------------------------------------------

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        given_key = key is not None
        key = value if key is None else key
        self._check_call_shapes(query, value, key)
        # As Keras: the query's own mask wins; value and key masks come from the tensors
        # when not passed (the key's only when a key was given).
        query_mask = getattr(query, "_mask", None) if getattr(query, "_mask", None) is not None \
            else query_mask  # fmt: skip
        if value_mask is None:
            value_mask = getattr(value, "_mask", None)
        if key_mask is None and given_key:
            key_mask = getattr(key, "_mask", None)
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                    attention_mask, use_causal_mask)  # fmt: skip
        gate = self._gate_dense.project(query) if self._gate_dense is not None else None
        q = self._query_dense.project(query)
        k = self._key_dense.project(key)
        v = self._value_dense.project(value)
        out, scores = self._attend(q, k, v, mask, training)
        if gate is not None:
            out = ops.multiply(out, gate)
        out = self._output_dense.project(out)
        if query_mask is not None:
            out._mask = query_mask
        return (out, scores) if return_attention_scores else out

    def _check_call_shapes(self, query, value, key):
        for arg, x, built in zip(("query", "value", "key"), (query, value, key), self._shapes,
                                 strict=True):  # fmt: skip
            got = tuple(x.shape)
            if len(got) != len(built) or got[-1] != built[-1]:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}' was built for `{arg}` of shape {built}. "
                    f"Received: {arg} shape {got}"
                )
        if tuple(value.shape)[1:-1] != tuple(key.shape)[1:-1]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `value` and `key` must have the same dims "
                f"except the last. Received: value shape {tuple(value.shape)}, key shape "
                f"{tuple(key.shape)}"
            )

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask,
                        use_causal_mask):  # fmt: skip
        """The combined bool mask (None when there is none), broadcastable to `(B, T, S)`."""
        parts = []
        if query_mask is not None:
            parts.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        for m in (value_mask, key_mask):
            if m is not None:
                parts.append(ops.expand_dims(ops.cast(m, "bool"), -2))
        if use_causal_mask or self.sliding_window is not None:
            if len(self._axes) != 1:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': use_causal_mask and sliding_window need "
                    f"attention over one axis. Received: attention_axes={self.attention_axes}"
                )
            rows = ops.expand_dims(_positions(query), -1)  # (T, 1), or (B, T, 1)
            cols = ops.expand_dims(_positions(value), -2)  # (1, S), or (B, 1, S)
            if use_causal_mask:
                parts.append(ops.greater_equal(rows, cols))
            if self.sliding_window is not None:
                distance = ops.abs(ops.subtract(rows, cols))
                parts.append(ops.less(distance, self.sliding_window))
        if attention_mask is not None:
            self._check_attention_mask(query, value, attention_mask)
            parts.insert(0, ops.cast(attention_mask, "bool"))
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = ops.logical_and(mask, part)
        return mask

    def _check_attention_mask(self, query, value, attention_mask) -> None:
        """With one attention axis, `attention_mask` must end in (T, S): the query's and the
        value's sequence lengths."""
        if len(self._axes) != 1:
            return
        shape = tuple(ops.shape(attention_mask))
        wanted = (query.shape[self._axes[0]], value.shape[self._axes[0]])
        if len(shape) < 2 or any(
            a is not None and b is not None and a != b
            for a, b in zip(shape[-2:], wanted, strict=True)
        ):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `attention_mask` must have shape (batch, "
                f"{wanted[0]}, {wanted[1]}) (query steps, value steps). Received: "
                f"attention_mask of shape {shape}"
            )

    def _attend(self, q, k, v, mask, training):
        """Scaled dot-product attention of projected `(B, *seq, heads, dim)` tensors: the
        output `(B, *seq_q, heads, value_dim)` and the probabilities."""
        q = ops.multiply(q, 1.0 / math.sqrt(float(self.key_dim)))
        standard = self._axes == (1,) and len(q.shape) == 4
        if standard:  # (B, T, N, H) -> (B, N, T, H) @ (B, N, H, S) -> (B, N, T, S)
            scores = ops.matmul(ops.transpose(q, (0, 2, 1, 3)), ops.transpose(k, (0, 2, 3, 1)))
        else:
            scores = ops.einsum(self._equations[0], k, q)
        n_axes = len(self._axes)
        if mask is not None:
            # (B, T, S) -> (B, 1, T, S): a dim for the heads (and any others before them).
            for _ in range(len(scores.shape) - len(mask.shape)):
                mask = ops.expand_dims(mask, -2 * n_axes - 1)
        probs = _masked_softmax(scores, mask, tuple(range(-n_axes, 0)))
        weights = probs
        if training and self.dropout > 0:
            weights = engine_random.dropout(probs, self.dropout, seed=self._seed_generator)
        if standard:  # (B, N, T, S) @ (B, N, S, Hv) -> (B, N, T, Hv) -> (B, T, N, Hv)
            out = ops.matmul(weights, ops.transpose(v, (0, 2, 1, 3)))
            return ops.transpose(out, (0, 2, 1, 3)), probs
        return ops.einsum(self._equations[1], weights, v), probs

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
            "seed": self.seed,
        }


def _check_output_shape(output_shape):
    if output_shape is None or output_shape == ():
        return None
    if isinstance(output_shape, int) and not isinstance(output_shape, bool):
        output_shape = (output_shape,)
    if not isinstance(output_shape, (list, tuple)) or any(
        isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in output_shape
    ):
        raise ValueError("MultiHeadAttention: `output_shape` must be a positive int or a tuple "
                         f"of them. Received: output_shape={output_shape!r}")  # fmt: skip
    return tuple(output_shape)


def _check_attention_axes(axes):
    if axes is None:
        return None
    if isinstance(axes, int) and not isinstance(axes, bool):
        return (axes,)
    if (
        not isinstance(axes, (list, tuple))
        or not axes
        or any(isinstance(a, bool) or not isinstance(a, int) for a in axes)
    ):
        raise ValueError("MultiHeadAttention: `attention_axes` must be an int, or a list or "
                         f"tuple of ints. Received: attention_axes={axes!r}")  # fmt: skip
    return tuple(axes)


def _positions(x):
    """The positions along axis 1 of `x`: a constant `(T,)` when its length is known, else
    counted at run time, `(B, T)`."""
    length = x.shape[1]
    if length is not None:
        return Tensor(np.arange(length, dtype=np.int32))
    ones = ops.ones_like(ops.sum(x, axis=tuple(range(2, len(x.shape)))), dtype="int32")
    return ops.cumsum(ones, axis=1)


def _masked_softmax(scores, mask, axes):
    """Softmax over `axes` with masked positions (False) set to -1e9 first and to 0 after,
    as Keras' Softmax layer."""
    if mask is None:
        return ops.softmax(scores, axis=axes)
    large_negative = -3e4 if scores.dtype == "float16" else -1e9
    probs = ops.softmax(ops.where(mask, scores, large_negative), axis=axes)
    return ops.where(mask, probs, 0.0)
