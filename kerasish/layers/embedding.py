"""`Embedding`: integer indices to dense vectors, rows of a trainable table."""

from __future__ import annotations

from backend import ops
from backend.ops.gather_rows import checked_indices

from .. import constraints, initializers, regularizers
from .arguments import check_bool
from .layer import Layer


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Embedding: `{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def _serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)


class Embedding(Layer):
    """Turns indices into dense vectors: index `i` becomes row `i` of the `embeddings` weight
    `(input_dim, output_dim)`; a `(batch, steps)` input gives `(batch, steps, output_dim)`.

    Indices must be whole numbers in `[0, input_dim)`: integer arrays, or floats holding whole
    numbers (a model's `Input` is float32 by default). Anything else (a negative, fractional or
    too large index) raises a ValueError naming the layer, the index and `input_dim`, eagerly
    and in compiled `fit`/`predict` (Keras would read an undefined row instead).

    Args:
        input_dim: the vocabulary size (largest index + 1).
        output_dim: the size of each vector.
        embeddings_initializer: the table's initializer (Keras' "uniform": +-0.05).
        embeddings_regularizer, embeddings_constraint: for the table, as Dense's kernel.
        activity_regularizer: a regularizer of the outputs, added to the loss (over the batch).
        mask_zero: index 0 is padding: the output carries the mask `inputs != 0`, which the
            layers after it use (docs/masking.md). Index 0 then means nothing, so
            `input_dim` should be the vocabulary size + 1.
        weights: an initial `(input_dim, output_dim)` table (or a one-item list of it).
        lora_rank, lora_alpha: train a low-rank update instead of the table (LoRA):
            see `enable_lora`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Embedding(10, 4, mask_zero=True)
        >>> out = layer(np.array([[3, 1, 0, 0]]))
        >>> out.shape, out._mask.numpy().tolist()
        ((1, 4, 4), [[True, True, False, False]])
    """

    autocast = False  # indices are read as given: a float64 index is not rounded to float32

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        activity_regularizer=None,
        **kwargs,
    ):
        kwargs.pop("input_length", None)  # Keras 2 configs; Keras 3 ignores it too
        quantization = kwargs.pop("quantization_config", None)
        if quantization is not None:
            raise ValueError(
                "Embedding: quantized embeddings are not supported. Received: "
                f"quantization_config={quantization!r}"
            )
        super().__init__(**kwargs)
        self.input_dim = _positive_int("input_dim", input_dim)
        self.output_dim = _positive_int("output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = check_bool("Embedding", "mask_zero", mask_zero)
        self.supports_masking = self.mask_zero
        if lora_rank is not None:
            _positive_int("lora_rank", lora_rank)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        self._embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            name="embeddings",
        )
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    @property
    def embeddings(self):
        """The table, with the LoRA update `(alpha / rank) * a @ b` added when enabled."""
        if not self.built:
            raise AttributeError(f"Embedding '{self.name}' is not built yet: it has no table.")
        if not self.lora_enabled:
            return self._embeddings
        update = ops.matmul(self.lora_embeddings_a, self.lora_embeddings_b)
        return ops.add(self._embeddings, ops.multiply(update, self.lora_alpha / self.lora_rank))

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros") -> None:  # fmt: skip
        """Freezes the table and trains `lora_embeddings_a` `(input_dim, rank)` and
        `lora_embeddings_b` `(rank, output_dim)` instead, as Keras: the layer uses
        `embeddings + (lora_alpha / rank) * a @ b` (b starts at zero, so nothing changes at
        first)."""
        _positive_int("rank", rank)
        if self.embeddings_constraint is not None:
            raise ValueError(
                f"Embedding '{self.name}': LoRA cannot be used with an embeddings_constraint."
            )
        if not self.built:
            raise ValueError(f"Embedding '{self.name}': build the layer before enabling LoRA.")
        if self.lora_enabled:
            raise ValueError(f"Embedding '{self.name}': LoRA is already enabled.")
        self.lora_embeddings_a = self.add_weight(
            shape=(self.input_dim, rank), initializer=a_initializer,
            regularizer=self.embeddings_regularizer, name="lora_embeddings_a",
        )  # fmt: skip
        self.lora_embeddings_b = self.add_weight(
            shape=(rank, self.output_dim), initializer=b_initializer,
            regularizer=self.embeddings_regularizer, name="lora_embeddings_b",
        )  # fmt: skip
        self._embeddings.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def call(self, inputs):
        indices = checked_indices(
            inputs, self.input_dim, owner=f"Embedding layer '{self.name}'", bound_name="input_dim"
        )
        x = ops.take(self.embeddings, indices, axis=0)
        if self.activity_regularizer is not None:
            batch = x.shape[0] or 1  # unknown only while building a functional graph
            self.add_loss(ops.divide(self.activity_regularizer(x), float(batch)))
        return x

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": _serialize_or_none(regularizers, self.embeddings_regularizer),
            "activity_regularizer": _serialize_or_none(regularizers, self.activity_regularizer),
            "embeddings_constraint": _serialize_or_none(constraints, self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config
