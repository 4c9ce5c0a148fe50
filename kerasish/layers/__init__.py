"""`kerasish.layers`: the layers (more arrive with each issue)."""

from .core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer
from .layer import Layer
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract

__all__ = [
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Identity",
    "Input", "InputLayer", "Layer", "Maximum", "Minimum", "Multiply", "Subtract",
]  # fmt: skip
