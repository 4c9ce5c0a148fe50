"""`kerasish.layers`: the layers (more arrive with each issue)."""

from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer
from .lambda_layer import Lambda
from .layer import Layer
from .merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .noise import GaussianDropout, GaussianNoise
from .preprocessing import Normalization, Rescaling
from .regularization import ActivityRegularization
from .reshaping import Permute, RepeatVector, Reshape

__all__ = [
    "Activation", "ActivityRegularization", "Add", "Average", "Concatenate", "Dense", "Dot",
    "Dropout", "ELU", "Flatten", "GaussianDropout", "GaussianNoise", "Identity", "Input",
    "InputLayer", "Lambda", "Layer", "LeakyReLU", "Maximum", "Minimum", "Multiply",
    "Normalization", "PReLU", "Permute", "ReLU", "RepeatVector", "Rescaling", "Reshape",
    "Softmax", "Subtract",
]  # fmt: skip
