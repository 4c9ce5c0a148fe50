"""Probabilistic and hinge metrics: the crossentropies, KL divergence, Poisson, hinges."""

from __future__ import annotations

from .. import losses as losses_module
from .reduction import MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary crossentropy."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):  # fmt: skip
        super().__init__(losses_module.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)  # fmt: skip


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean categorical crossentropy."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):  # fmt: skip
        super().__init__(losses_module.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)  # fmt: skip


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean sparse categorical crossentropy (entries labelled `ignore_class` left out)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):  # fmt: skip
        super().__init__(losses_module.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)  # fmt: skip


class KLDivergence(MeanMetricWrapper):
    """The mean Kullback-Leibler divergence."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses_module.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """The mean Poisson loss."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses_module.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """The mean hinge loss."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses_module.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """The mean squared hinge loss."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses_module.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """The mean categorical hinge loss."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses_module.categorical_hinge, name=name, dtype=dtype)
