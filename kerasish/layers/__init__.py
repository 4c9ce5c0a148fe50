"""`kerasish.layers`: the layers."""

from ..saving import serialization as _serialization
from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention
from .conv_transpose import Conv1DTranspose, Conv2DTranspose
from .convolutional import Conv1D, Conv2D
from .core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer
from .depthwise_separable import DepthwiseConv2D, SeparableConv2D
from .embedding import Embedding
from .image_augmentation import (
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .image_resizing import CenterCrop, RandomCrop, Resizing
from .keras_operation import KerasOperation
from .lambda_layer import Lambda
from .layer import Layer
from .layer_normalization import LayerNormalization, UnitNormalization
from .lookup import IntegerLookup, StringLookup
from .masking import Masking
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .multi_head_attention import MultiHeadAttention
from .noise import GaussianDropout, GaussianNoise
from .normalization import BatchNormalization, GroupNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .preprocessing import Normalization, Rescaling
from .regularization import ActivityRegularization
from .reshaping import Permute, RepeatVector, Reshape
from .rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
    TimeDistributed,
)
from .spatial import (
    Cropping1D,
    Cropping2D,
    SpatialDropout1D,
    SpatialDropout2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from .text_vectorization import TextVectorization

__all__ = [
    "Activation", "ActivityRegularization", "Add", "Average", "Concatenate", "Dense", "Dot",
    "Dropout", "ELU", "Flatten", "GaussianDropout", "GaussianNoise", "Identity", "Input",
    "InputLayer", "Lambda", "Layer", "LeakyReLU", "Maximum", "Minimum", "Multiply",
    "Normalization", "PReLU", "Permute", "ReLU", "RepeatVector", "Rescaling", "Reshape",
    "Softmax", "Subtract",
    # convolutional networks
    "AveragePooling1D", "AveragePooling2D", "BatchNormalization", "Conv1D", "Conv1DTranspose",
    "Conv2D", "Conv2DTranspose", "Cropping1D", "Cropping2D", "DepthwiseConv2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GroupNormalization", "MaxPooling1D", "MaxPooling2D",
    "SeparableConv2D", "SpatialDropout1D", "SpatialDropout2D", "UpSampling1D", "UpSampling2D",
    "ZeroPadding1D", "ZeroPadding2D",
    # embeddings, masking and the functional merge helpers
    "Embedding", "Masking", "add", "average", "concatenate", "dot", "maximum", "minimum",
    "multiply", "subtract",
    # recurrent networks
    "Bidirectional", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "SimpleRNN", "SimpleRNNCell",
    "StackedRNNCells", "TimeDistributed",
    # image preprocessing and augmentation
    "CenterCrop", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
    "RandomTranslation", "RandomZoom", "Resizing",
    # text preprocessing
    "IntegerLookup", "StringLookup", "TextVectorization",
    # normalization and attention for sequence models
    "AdditiveAttention", "Attention", "LayerNormalization", "MultiHeadAttention",
    "UnitNormalization",
]  # fmt: skip


def serialize(layer) -> dict:
    """Keras' config dict of a layer (`keras.layers.serialize`)."""
    return _serialization.serialize(layer)


def deserialize(config: dict, custom_objects: dict | None = None):
    """A layer from `serialize`'s dict (`keras.layers.deserialize`); only registered or
    given classes load."""
    return _serialization.deserialize(config, custom_objects)


_serialization.register_builtins(
    {name: value for name, value in list(globals().items())
     if name in __all__ and isinstance(value, type)}
)  # fmt: skip
# Keras operations (`NotEqual`, ...) met in Keras' functional configs.
_serialization.register_builtins({"KerasOperation": KerasOperation})
__all__ += ["deserialize", "serialize"]
