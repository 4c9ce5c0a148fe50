"""`kerasish.layers`: the layers (more arrive with each issue)."""

from .core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer
from .layer import Layer

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Identity", "Input", "InputLayer", "Layer"]
