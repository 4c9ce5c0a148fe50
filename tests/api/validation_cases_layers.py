"""The bad-input cases of the layers (`validation_cases.py` runs them): constructors of
the core, merging, normalization and activation layers and calls of them on wrong inputs;
convolution, pooling, spatial and image layers; sequence layers (recurrent, Embedding,
attention, text preprocessing)."""

from __future__ import annotations

import numpy as np
from validation_cases import arr, call, case, ctor

import kerasish as keras
from kerasish import layers

# ---------------------------------------------------------------------------------------------
# Constructors of the core, merging, normalization and activation layers.
G = "core_layers"
for units in (-3, 0, 2.5, "8", None, True):
    ctor(G, "Dense", units=units)
ctor(G, "Dense", activation="no_such_activation")
ctor(G, "Dense", kernel_initializer="no_such_initializer")
ctor(G, "Dense", kernel_regularizer="no_such_regularizer")
ctor(G, "Dense", kernel_constraint="no_such_constraint")
ctor(G, "Dense", use_bias="yes")
for rate in (-0.1, 1.5, "half", None):
    ctor(G, "Dropout", rate=rate)
ctor(G, "Dropout", noise_shape=5)
ctor(G, "GaussianDropout", rate=-1)
ctor(G, "GaussianDropout", rate=1)
ctor(G, "GaussianNoise", stddev=-0.5)
ctor(G, "GaussianNoise", stddev="big")
ctor(G, "Activation", activation="no_such_activation")
ctor(G, "Activation", activation=3)
ctor(G, "ELU", alpha="one")
ctor(G, "LeakyReLU", negative_slope=-1)
ctor(G, "LeakyReLU", negative_slope=None)
ctor(G, "ReLU", max_value=-1)
ctor(G, "ReLU", negative_slope=-0.5)
ctor(G, "ReLU", threshold="zero")
ctor(G, "Softmax", axis="last")
ctor(G, "PReLU", shared_axes="channels")
ctor(G, "Flatten", data_format="channels_middle")
ctor(G, "Reshape", target_shape=-1)
ctor(G, "Reshape", target_shape=(2, -1, -1))
ctor(G, "Reshape", target_shape=(0, 4))
ctor(G, "Reshape", target_shape="2x2")
ctor(G, "Permute", dims=(1, 1))
ctor(G, "Permute", dims=(0, 1))
ctor(G, "Permute", dims=(1, 3))
ctor(G, "RepeatVector", n=0)
ctor(G, "RepeatVector", n=-2)
ctor(G, "RepeatVector", n=2.5)
ctor(G, "Concatenate", axis="last")
ctor(G, "Dot", axes="one")
ctor(G, "Dot", axes=(1, 2, 3))
ctor(G, "Rescaling", scale="two")
ctor(G, "Rescaling", offset=None)
ctor(G, "Normalization", axis="features")
ctor(G, "Normalization", mean=[1.0, 2.0])
ctor(G, "Normalization", variance=[-1.0])
ctor(G, "ActivityRegularization", l1=-0.1)
ctor(G, "ActivityRegularization", l2="small")
ctor(G, "BatchNormalization", momentum=1.5)
ctor(G, "BatchNormalization", momentum=-0.1)
ctor(G, "BatchNormalization", epsilon=-1e-3)
ctor(G, "BatchNormalization", center="yes")
ctor(G, "BatchNormalization", axis="channels")
ctor(G, "BatchNormalization", gamma_initializer="no_such_initializer")
ctor(G, "LayerNormalization", epsilon=-1.0)
ctor(G, "LayerNormalization", axis="last")
ctor(G, "GroupNormalization", groups=0)
ctor(G, "GroupNormalization", groups=-4)
ctor(G, "GroupNormalization", epsilon=-1.0)
ctor(G, "UnitNormalization", axis="all")
ctor(G, "Masking", mask_value="pad")
ctor(G, "Lambda", function=42)
ctor(G, "Lambda", function="lambda x: x")
ctor(G, "InputLayer", shape=(-1, 4))
ctor(G, "InputLayer", shape="784")
ctor(G, "InputLayer", shape=(3,), batch_size=-2)
case(G, "Input(shape=(28, -28))", lambda: keras.Input((28, -28)), "shape", ("-28",))
case(G, "Input(shape=(4,), dtype='float17')", lambda: keras.Input((4,), dtype="float17"),
     "dtype", "float17")  # fmt: skip
case(G, "Dense(3, name=5)", lambda: layers.Dense(3, name=5), "name", "5")
case(G, "Dense(3, trainable='no')", lambda: layers.Dense(3, trainable="no"), "trainable", "no")
case(G, "Dense(3, dtype='int3')", lambda: layers.Dense(3, dtype="int3"), "dtype", "int3")
case(G, "Dense(3, unitz=4)", lambda: layers.Dense(3, unitz=4), "unitz")

# Calls of those layers on inputs of the wrong rank, size or type.
call(G, "Dense on a scalar", lambda: layers.Dense(3, name="probe_layer"), [np.float32(1.0)],
     "rank")  # fmt: skip
call(G, "Dense built for 4 fed 5", lambda: _built(layers.Dense(3, name="probe_layer"), (2, 4)),
     [arr(2, 5)], "4", "5")  # fmt: skip
call(G, "Dense on text", lambda: layers.Dense(3, name="probe_layer"), [np.array([["a", "b"]])],
     ("str", "<U1", "text", "string"))  # fmt: skip
call(G, "Dense on a dict", lambda: layers.Dense(3, name="probe_layer"), [{"a": 1}], "dict")
call(G, "Dense on an object array", lambda: layers.Dense(3, name="probe_layer"),
     [np.array([[object(), object()]])], "object")  # fmt: skip
call(G, "Dense on a None input", lambda: layers.Dense(3, name="probe_layer"), [None], "None")
call(G, "Reshape to a wrong size", lambda: layers.Reshape((3, 3), name="probe_layer"),
     [arr(2, 4)], "(3, 3)", "4")  # fmt: skip
call(G, "Permute of a wrong rank", lambda: layers.Permute((2, 1), name="probe_layer"),
     [arr(2, 3, 4, 5)], "(2, 1)", ("rank", "4"))  # fmt: skip
call(G, "RepeatVector on rank 3", lambda: layers.RepeatVector(2, name="probe_layer"),
     [arr(2, 3, 4)], "(2, 3, 4)")  # fmt: skip
call(G, "Add of different shapes", lambda: layers.Add(name="probe_layer"),
     [[arr(2, 3), arr(2, 4)]], "(2, 3)", "(2, 4)")  # fmt: skip
call(G, "Add of one input", lambda: layers.Add(name="probe_layer"), [[arr(2, 3)]], "1")
call(G, "Add of a single array", lambda: layers.Add(name="probe_layer"), [arr(2, 3)], "list")
call(G, "Subtract of three inputs", lambda: layers.Subtract(name="probe_layer"),
     [[arr(2, 3)] * 3], "3")  # fmt: skip
call(G, "Multiply of different batch", lambda: layers.Multiply(name="probe_layer"),
     [[arr(2, 3), arr(5, 3)]], "(2, 3)", "(5, 3)")  # fmt: skip
call(G, "Concatenate of mismatched dims", lambda: layers.Concatenate(name="probe_layer"),
     [[arr(2, 3, 4), arr(2, 5, 4)]], "(2, 3, 4)", "(2, 5, 4)")  # fmt: skip
call(G, "Concatenate on a missing axis", lambda: layers.Concatenate(axis=3, name="probe_layer"),
     [[arr(2, 3), arr(2, 3)]], "axis", "3")  # fmt: skip
call(G, "Dot of mismatched dims", lambda: layers.Dot(axes=1, name="probe_layer"),
     [[arr(2, 3), arr(2, 4)]], "3", "4")  # fmt: skip
call(G, "Average of one input", lambda: layers.Average(name="probe_layer"), [[arr(2, 3)]],
     "1")  # fmt: skip
call(G, "Maximum of different shapes", lambda: layers.Maximum(name="probe_layer"),
     [[arr(2, 3), arr(2, 4)]], "(2, 3)", "(2, 4)")  # fmt: skip
call(G, "Minimum of a tensor and text", lambda: layers.Minimum(name="probe_layer"),
     [[arr(2, 3), np.full((2, 3), "a")]], ("str", "<U1", "text"))  # fmt: skip
call(G, "GaussianNoise on an object", lambda: layers.GaussianNoise(0.1, name="probe_layer"),
     [object()], "object")  # fmt: skip
call(G, "PReLU built for 4 fed 6", lambda: _built(layers.PReLU(name="probe_layer"), (2, 4)),
     [arr(2, 6)], "4", "6")  # fmt: skip
case(G, "Identity(units=3)", lambda: layers.Identity(units=3), "Identity", "units")
call(G, "BatchNormalization on an axis too far", lambda: layers.BatchNormalization(
     axis=3, name="probe_layer"), [arr(2, 3)], "axis", "3")  # fmt: skip
call(G, "GroupNormalization with groups not dividing", lambda: layers.GroupNormalization(
     groups=3, name="probe_layer"), [arr(2, 4)], "groups", "3", "4")  # fmt: skip
call(G, "LayerNormalization on an axis too far", lambda: layers.LayerNormalization(
     axis=4, name="probe_layer"), [arr(2, 3)], "axis", "4")  # fmt: skip
call(G, "Softmax on an axis too far", lambda: layers.Softmax(axis=2, name="probe_layer"),
     [arr(2, 3)], "axis", "2")  # fmt: skip
call(G, "Normalization with a mean of another size",
     lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0], name="probe_layer"),
     [arr(4, 3)], "2", "3")  # fmt: skip
case(G, "Normalization.adapt on empty data",
     lambda: layers.Normalization(name="probe_layer").adapt(np.zeros((0, 3))), "probe_layer",
     ("empty", "0 samples", "no data", "(0, 3)"))  # fmt: skip
case(G, "Normalization.adapt on text",
     lambda: layers.Normalization(name="probe_layer").adapt(np.array(["a", "b"])),
     "probe_layer", ("str", "text", "<U1"))  # fmt: skip


def _built(layer, shape):
    layer.build(shape)
    return layer


# ---------------------------------------------------------------------------------------------
# Convolution, pooling, spatial and image layers.
G = "image_layers"
for cls in ("Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose", "SeparableConv2D"):
    ctor(G, cls, filters=0)
    ctor(G, cls, filters=-4)
    ctor(G, cls, kernel_size=0)
    ctor(G, cls, strides=0)
    ctor(G, cls, padding="full")
for cls in ("Conv1D", "Conv2D"):
    ctor(G, cls, filters=2.5)
    ctor(G, cls, kernel_size=(3, 3, 3))
    ctor(G, cls, dilation_rate=0)
    ctor(G, cls, groups=0)
    ctor(G, cls, data_format="nhwc")
    ctor(G, cls, activation="no_such_activation")
ctor(G, "Conv2D", kernel_size=-3)
ctor(G, "Conv2D", strides=(1, -1))
ctor(G, "Conv2D", kernel_size="3x3")
ctor(G, "Conv2DTranspose", output_padding=-1)
ctor(G, "DepthwiseConv2D", kernel_size=0)
ctor(G, "DepthwiseConv2D", depth_multiplier=0)
ctor(G, "DepthwiseConv2D", padding="full")
ctor(G, "SeparableConv2D", depth_multiplier=-1)
for cls in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"):
    ctor(G, cls, pool_size=0)
    ctor(G, cls, strides=-1)
    ctor(G, cls, padding="full")
ctor(G, "MaxPooling2D", pool_size=(2, 2, 2))
ctor(G, "MaxPooling2D", pool_size="2")
ctor(G, "GlobalAveragePooling2D", data_format="nchw")
ctor(G, "GlobalMaxPooling1D", keepdims="yes")
ctor(G, "UpSampling1D", size=0)
ctor(G, "UpSampling2D", size=(2, -1))
ctor(G, "UpSampling2D", interpolation="cubic_spline")
ctor(G, "ZeroPadding1D", padding=-1)
ctor(G, "ZeroPadding2D", padding=(1, 2, 3))
ctor(G, "ZeroPadding2D", padding="same")
ctor(G, "Cropping1D", cropping=(-1, 0))
ctor(G, "Cropping2D", cropping=((0, 0), (0, -2)))
ctor(G, "Cropping2D", cropping="edges")
ctor(G, "SpatialDropout1D", rate=1.5)
ctor(G, "SpatialDropout2D", rate=-0.5)
ctor(G, "CenterCrop", height=0)
ctor(G, "CenterCrop", width=-3)
ctor(G, "RandomCrop", height=-1)
ctor(G, "Resizing", height=0)
ctor(G, "Resizing", width=-5)
ctor(G, "Resizing", interpolation="magic")
ctor(G, "RandomFlip", mode="diagonal")
ctor(G, "RandomRotation", factor=-2)
ctor(G, "RandomRotation", fill_mode="wrap_around")
ctor(G, "RandomRotation", interpolation="cubic_spline")
ctor(G, "RandomTranslation", height_factor=1.5)
ctor(G, "RandomTranslation", width_factor="wide")
ctor(G, "RandomZoom", height_factor=(-2.0, 0.5))
ctor(G, "RandomZoom", fill_mode="stretch")
ctor(G, "RandomContrast", factor=-0.5)
ctor(G, "RandomContrast", factor=(0.5, 0.2, 0.1))
ctor(G, "RandomContrast", value_range=(1, 0))

call(G, "Conv2D on rank 3", lambda: layers.Conv2D(2, 3, name="probe_layer"), [arr(2, 8, 8)],
     ("rank", "ndim", "4"))  # fmt: skip
call(G, "Conv2D kernel larger than the image", lambda: layers.Conv2D(2, 5, name="probe_layer"),
     [arr(1, 3, 3, 1)], ("5", "(5, 5)"), ("3", "(1, 3, 3, 1)"))  # fmt: skip
call(G, "Conv1D on rank 2", lambda: layers.Conv1D(2, 3, name="probe_layer"), [arr(2, 8)],
     ("rank", "ndim"))  # fmt: skip
call(G, "Conv2D groups not dividing channels",
     lambda: layers.Conv2D(4, 3, groups=2, name="probe_layer"), [arr(1, 5, 5, 3)], "groups",
     "3")  # fmt: skip
call(G, "Conv2D built for 3 channels fed 4",
     lambda: _built(layers.Conv2D(2, 3, name="probe_layer"), (1, 5, 5, 3)), [arr(1, 5, 5, 4)],
     "3", "4")  # fmt: skip
call(G, "MaxPooling2D on rank 2", lambda: layers.MaxPooling2D(name="probe_layer"),
     [arr(4, 4)], "(4, 4)")  # fmt: skip
call(G, "MaxPooling2D pool larger than input",
     lambda: layers.MaxPooling2D(5, name="probe_layer"), [arr(1, 3, 3, 1)], "5", "3")  # fmt: skip
call(G, "AveragePooling1D on rank 4", lambda: layers.AveragePooling1D(2, name="probe_layer"),
     [arr(1, 4, 4, 1)], ("rank", "ndim"))  # fmt: skip
call(G, "GlobalAveragePooling2D on rank 3",
     lambda: layers.GlobalAveragePooling2D(name="probe_layer"), [arr(2, 3, 4)],
     ("rank", "ndim"))  # fmt: skip
call(G, "DepthwiseConv2D on rank 3", lambda: layers.DepthwiseConv2D(3, name="probe_layer"),
     [arr(2, 5, 5)], ("rank", "ndim"))  # fmt: skip
call(G, "Cropping2D removing everything",
     lambda: layers.Cropping2D(((2, 2), (0, 0)), name="probe_layer"), [arr(1, 4, 4, 1)],
     "cropping", "4")  # fmt: skip
call(G, "UpSampling2D on rank 2", lambda: layers.UpSampling2D(name="probe_layer"), [arr(4, 4)],
     ("rank", "ndim"))  # fmt: skip
call(G, "ZeroPadding2D on rank 3", lambda: layers.ZeroPadding2D(name="probe_layer"),
     [arr(4, 4, 1)], ("rank", "ndim"))  # fmt: skip
call(G, "Resizing on rank 2", lambda: layers.Resizing(2, 2, name="probe_layer"), [arr(4, 4)],
     "(4, 4)")  # fmt: skip
call(G, "RandomFlip on rank 2", lambda: layers.RandomFlip(name="probe_layer"), [arr(4, 4)],
     "(4, 4)")  # fmt: skip
call(G, "CenterCrop on text", lambda: layers.CenterCrop(2, 2, name="probe_layer"),
     [np.full((1, 4, 4, 1), "a")], ("str", "text", "<U1"))  # fmt: skip
call(G, "Conv2DTranspose on rank 3", lambda: layers.Conv2DTranspose(2, 3, name="probe_layer"),
     [arr(2, 5, 5)], ("rank", "ndim"))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Sequence layers: recurrent, Embedding, attention, text preprocessing.
G = "sequence_layers"
for cls in ("SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell"):
    ctor(G, cls, units=0)
    ctor(G, cls, units=-2)
    ctor(G, cls, dropout=1.5)
    ctor(G, cls, recurrent_dropout=-0.5)
    ctor(G, cls, activation="no_such_activation")
for cls in ("SimpleRNN", "LSTM", "GRU"):
    ctor(G, cls, units="32")
    ctor(G, cls, return_sequences="yes")
ctor(G, "GRU", reset_after="maybe")
ctor(G, "LSTM", recurrent_initializer="no_such_initializer")
ctor(G, "GRUCell", recurrent_activation=17)
case(G, "RNN(cell=Dense)", lambda: layers.RNN(layers.Dense(3)), "cell", "Dense")
case(G, "RNN(cell=None)", lambda: layers.RNN(None), "cell", "None")
case(G, "RNN(cell=[])", lambda: layers.RNN([]), "cell", "[]")
case(G, "StackedRNNCells(cells=[Dense])", lambda: layers.StackedRNNCells([layers.Dense(2)]),
     "cells", "Dense")  # fmt: skip
case(G, "StackedRNNCells(cells='lstm')", lambda: layers.StackedRNNCells("lstm"), "cells", "lstm")
case(G, "Bidirectional(layer=Dense)", lambda: layers.Bidirectional(layers.Dense(3)), "layer",
     "Dense")  # fmt: skip
case(
    G,
    "Bidirectional(merge_mode='join')",
    lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="join"),
    "merge_mode",
    "join",
)
case(G, "TimeDistributed(layer='dense')", lambda: layers.TimeDistributed("dense"), "layer",
     "dense")  # fmt: skip
for bad in (0, -5, 2.5, "100"):
    ctor(G, "Embedding", input_dim=bad)
for bad in (0, -1):
    ctor(G, "Embedding", output_dim=bad)
ctor(G, "Embedding", embeddings_initializer="no_such_initializer")
ctor(G, "Embedding", mask_zero="yes")
for bad in (0, -1, 1.5):
    ctor(G, "MultiHeadAttention", num_heads=bad)
for bad in (0, -8):
    ctor(G, "MultiHeadAttention", key_dim=bad)
ctor(G, "MultiHeadAttention", dropout=1.5)
ctor(G, "MultiHeadAttention", value_dim=-1)
ctor(G, "Attention", score_mode="cosine")
ctor(G, "Attention", dropout=-0.1)
ctor(G, "AdditiveAttention", dropout=2.0)
ctor(G, "TextVectorization", max_tokens=0)
ctor(G, "TextVectorization", max_tokens=-5)
ctor(G, "TextVectorization", output_mode="bag")
ctor(G, "TextVectorization", output_sequence_length=-1)
ctor(G, "TextVectorization", ngrams=0)
ctor(G, "TextVectorization", standardize="upper")
ctor(G, "TextVectorization", split="commas")
ctor(G, "StringLookup", max_tokens=-1)
ctor(G, "StringLookup", num_oov_indices=-1)
ctor(G, "StringLookup", output_mode="bits")
case(
    G,
    "StringLookup(vocabulary=['a', 'a'])",
    lambda: layers.StringLookup(vocabulary=["a", "a"]),
    "vocabulary",
    "'a'",
)
ctor(G, "IntegerLookup", max_tokens=-3)
ctor(G, "IntegerLookup", num_oov_indices=-2)
ctor(G, "IntegerLookup", output_mode="words")

call(G, "LSTM on rank 2", lambda: layers.LSTM(3, name="probe_layer"), [arr(2, 4)], "(2, 4)")
call(G, "GRU on rank 4", lambda: layers.GRU(3, name="probe_layer"), [arr(2, 4, 4, 1)],
     "(2, 4, 4, 1)")  # fmt: skip
call(G, "SimpleRNN on a scalar", lambda: layers.SimpleRNN(3, name="probe_layer"),
     [np.float32(2.0)], "()")  # fmt: skip
call(G, "LSTM built for 4 features fed 5",
     lambda: _built(layers.LSTM(3, name="probe_layer"), (2, 6, 4)), [arr(2, 6, 5)], "4",
     "5")  # fmt: skip
call(G, "LSTM initial_state of a wrong size", lambda: _StateCall(layers.LSTM(3,
     name="probe_layer")), [arr(2, 6, 4)], "initial_state", "(2, 5)")  # fmt: skip
call(G, "Embedding on floats", lambda: layers.Embedding(10, 4, name="probe_layer"),
     [np.array([[0.5, 1.5]])], "0.5")  # fmt: skip
call(G, "Embedding index out of range", lambda: layers.Embedding(10, 4, name="probe_layer"),
     [np.array([[3, 12]])], "12", "10")  # fmt: skip
call(G, "Embedding negative index", lambda: layers.Embedding(10, 4, name="probe_layer"),
     [np.array([[3, -1]])], "-1", "10")  # fmt: skip
call(G, "Embedding on text", lambda: layers.Embedding(10, 4, name="probe_layer"),
     [np.array([["a", "b"]])], ("str", "text", "<U1"))  # fmt: skip
call(G, "MultiHeadAttention query/value mismatch",
     lambda: layers.MultiHeadAttention(2, 4, name="probe_layer"),
     [arr(2, 5, 8), arr(2, 6, 8), arr(2, 7, 8)], "6", "7")  # fmt: skip
call(G, "MultiHeadAttention on rank 1", lambda: layers.MultiHeadAttention(2, 4,
     name="probe_layer"), [arr(8), arr(8)], ("rank", "ndim"))  # fmt: skip
call(G, "Attention with one input", lambda: layers.Attention(name="probe_layer"),
     [[arr(2, 3, 4)]], ("1", "[query, value]"))  # fmt: skip
call(G, "Attention dims differ", lambda: layers.Attention(name="probe_layer"),
     [[arr(2, 3, 4), arr(2, 5, 6)]], "4", "6")  # fmt: skip
call(G, "AdditiveAttention on rank 2", lambda: layers.AdditiveAttention(name="probe_layer"),
     [[arr(2, 4), arr(2, 4)]], ("rank", "ndim"))  # fmt: skip
call(G, "TextVectorization on numbers",
     lambda: _adapted(layers.TextVectorization(name="probe_layer")), [arr(2, 3)],
     ("float32", "text", "string"))  # fmt: skip
call(G, "StringLookup on floats", lambda: layers.StringLookup(vocabulary=["a", "b"],
     name="probe_layer"), [arr(2, 3)], ("float32", "string"))  # fmt: skip
call(G, "IntegerLookup on text", lambda: layers.IntegerLookup(vocabulary=[1, 2],
     name="probe_layer"), [np.array(["a"])], ("str", "<U1", "integer"))  # fmt: skip
case(G, "TextVectorization.adapt on numbers",
     lambda: layers.TextVectorization(name="probe_layer").adapt(arr(3, 2)), "probe_layer",
     ("float32", "text", "string"))  # fmt: skip
case(G, "TextVectorization.adapt on an empty list",
     lambda: layers.TextVectorization(name="probe_layer").adapt([]), "probe_layer",
     ("empty", "no data", "no text"))  # fmt: skip
case(G, "StringLookup.adapt on numbers",
     lambda: layers.StringLookup(name="probe_layer").adapt(arr(3)), "probe_layer",
     ("float32", "string"))  # fmt: skip


call(G, "TimeDistributed on rank 2", lambda: layers.TimeDistributed(layers.Dense(2),
     name="probe_layer"), [arr(2, 3)], "(2, 3)")  # fmt: skip
call(G, "Bidirectional on rank 2", lambda: layers.Bidirectional(layers.LSTM(2),
     name="probe_layer"), [arr(2, 3)], "(2, 3)")  # fmt: skip
call(G, "MultiHeadAttention mask of a wrong shape", lambda: _MaskedCall(
     layers.MultiHeadAttention(2, 4, name="probe_layer")), [arr(2, 5, 8)], "attention_mask",
     "(2, 7, 7)")  # fmt: skip
call(G, "Masking on text", lambda: layers.Masking(name="probe_layer"),
     [np.array([["a", "b"]])], ("str", "<U1", "text"))  # fmt: skip
call(G, "SimpleRNN mask of a wrong length", lambda: _MaskedRNNCall(
     layers.SimpleRNN(2, name="probe_layer")), [arr(2, 5, 3)], "mask", "(2, 4)")  # fmt: skip


class _MaskedCall:
    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x, x, attention_mask=np.ones((2, 7, 7), bool))


class _MaskedRNNCall:
    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x, mask=np.ones((2, 4), bool))


class _StateCall:
    """Calls an LSTM with an initial state of the wrong size."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x, initial_state=[arr(2, 5), arr(2, 5)])


def _adapted(layer):
    layer.adapt(["a b", "b c"])
    return layer
