"""The catalogue of bad inputs: each case is one call that must fail with a clear error.

Run as a script with a group name, it runs that group's cases in this process and prints one
JSON line per case (the test in `test_validation_catalogue.py` runs each group in its own
subprocess, so a crash fails that test rather than the run). A case passes when the call
raises the expected kind of error, whose message mentions every expected piece (the argument
or layer, the value received) and names nothing internal (Numba, LLVM, a private class, an
object address), and when the probe model still predicts what it predicted before and still
trains afterwards.
"""

from __future__ import annotations

import json
import re
import sys
import traceback

import numpy as np

import kerasish as keras
from kerasish import layers, ops

CASES: dict = {}  # group -> [(name, fn, expected error types, mentions)]
CLEAR = (ValueError, TypeError)
INTERNAL = re.compile(r"numba|llvm|(?<![\w`'])_[A-Z]\w*|object at 0x|Traceback", re.IGNORECASE)


def case(group, name, fn, *mentions, errors=CLEAR):
    """Adds a case: `fn()` must raise one of `errors` whose message contains each mention
    (a mention given as a tuple is satisfied by any of its items)."""
    cases = CASES.setdefault(group, [])
    if any(existing[0] == name for existing in cases):
        raise AssertionError(f"duplicate case name {name}")
    cases.append((name, fn, errors, mentions))


def shown(value):
    """The ways a message may show `value` (a tuple may show as a list)."""
    if isinstance(value, tuple):
        return (str(value), str(list(value)))
    if isinstance(value, str):
        return (value,)
    return (repr(value), str(value))


def ctor(group, cls, **bad):
    """A constructor case: `cls(**bad)` with one bad argument among valid ones; the message
    must name the (last) bad argument and its value."""
    required = REQUIRED.get(cls, {})
    args = {**required, **bad}
    key = list(bad)[-1]
    label = f"{cls}({', '.join(f'{k}={v!r}' for k, v in bad.items())})"
    case(group, label, lambda: getattr(layers, cls)(**args), key, shown(bad[key]))


REQUIRED = {
    "Dense": {"units": 3},
    "Dropout": {"rate": 0.5},
    "GaussianDropout": {"rate": 0.5},
    "GaussianNoise": {"stddev": 0.1},
    "Conv1D": {"filters": 2, "kernel_size": 3},
    "Conv2D": {"filters": 2, "kernel_size": 3},
    "Conv1DTranspose": {"filters": 2, "kernel_size": 3},
    "Conv2DTranspose": {"filters": 2, "kernel_size": 3},
    "DepthwiseConv2D": {"kernel_size": 3},
    "SeparableConv2D": {"filters": 2, "kernel_size": 3},
    "AveragePooling1D": {"pool_size": 2},
    "AveragePooling2D": {"pool_size": 2},
    "Embedding": {"input_dim": 10, "output_dim": 4},
    "SimpleRNN": {"units": 3},
    "LSTM": {"units": 3},
    "GRU": {"units": 3},
    "SimpleRNNCell": {"units": 3},
    "LSTMCell": {"units": 3},
    "GRUCell": {"units": 3},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 4},
    "SpatialDropout1D": {"rate": 0.5},
    "SpatialDropout2D": {"rate": 0.5},
    "CenterCrop": {"height": 2, "width": 2},
    "RandomCrop": {"height": 2, "width": 2},
    "Resizing": {"height": 2, "width": 2},
    "RandomContrast": {"factor": 0.5},
    "RandomRotation": {"factor": 0.1},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "Rescaling": {"scale": 1.0},
    "RepeatVector": {"n": 2},
    "Reshape": {"target_shape": (2, 2)},
    "Permute": {"dims": (2, 1)},
    "Dot": {"axes": 1},
    "Activation": {"activation": "relu"},
}


def call(group, name, make_layer, inputs, *mentions):
    """A call case: the layer (named `probe_layer`) applied to bad inputs; the message must
    name the layer."""
    case(group, name, lambda: make_layer()(*inputs), "probe_layer", *mentions)


def arr(*shape, dtype="float32"):
    return np.ones(shape, dtype)


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
case(G, "Bidirectional(merge_mode='join')",
     lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="join"), "merge_mode", "join")
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
case(G, "StringLookup(vocabulary=['a', 'a'])",
     lambda: layers.StringLookup(vocabulary=["a", "a"]), "vocabulary", "'a'")
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


# ---------------------------------------------------------------------------------------------
# compile, fit, evaluate, predict, set_weights and the model-level calls.
G = "training"


def probe_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3)], name="probe_model")  # fmt: skip
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True),
                  metrics=["accuracy"])  # fmt: skip
    return model


MODEL = None  # set in run(): the model every case of a group shares
X = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
Y = np.arange(16) % 3


def m():
    return MODEL


def fresh():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="fresh_model")


case(G, "compile(optimizer='adamw2')", lambda: fresh().compile("adamw2", "mse"), "adamw2")
case(G, "compile(optimizer=3)", lambda: fresh().compile(3, "mse"), "optimizer", "3")
case(G, "compile(loss='msq')", lambda: fresh().compile("sgd", "msq"), "msq")
case(G, "compile(loss=42)", lambda: fresh().compile("sgd", 42), "loss", "42")
case(G, "compile(metrics='accuracy')", lambda: fresh().compile("sgd", "mse", metrics="accuracy"),
     "metrics", "accuracy")  # fmt: skip
case(G, "compile(metrics=['acc_uracy'])",
     lambda: fresh().compile("sgd", "mse", metrics=["acc_uracy"]), "acc_uracy")
case(G, "compile(loss_weights=[1, 2])",
     lambda: fresh().compile("sgd", "mse", loss_weights=[1.0, 2.0]), "loss_weights", "2")
case(G, "compile(loss={'nope': 'mse'})",
     lambda: fresh().compile("sgd", {"nope": "mse"}), "nope")
case(G, "SGD(learning_rate=-1)", lambda: keras.optimizers.SGD(learning_rate=-1.0),
     "learning_rate", "-1")  # fmt: skip
case(G, "SGD(learning_rate='fast')", lambda: keras.optimizers.SGD(learning_rate="fast"),
     "learning_rate", "fast")  # fmt: skip
case(G, "SGD(momentum=-0.5)", lambda: keras.optimizers.SGD(momentum=-0.5), "momentum", "-0.5")
case(G, "Adam(beta_1=1.5)", lambda: keras.optimizers.Adam(beta_1=1.5), "beta_1", "1.5")
case(G, "Adam(epsilon=-1)", lambda: keras.optimizers.Adam(epsilon=-1.0), "epsilon", "-1")
case(G, "Adam(clipnorm=-1)", lambda: keras.optimizers.Adam(clipnorm=-1.0), "clipnorm", "-1")
case(G, "RMSprop(rho=2)", lambda: keras.optimizers.RMSprop(rho=2.0), "rho", "2")
case(G, "fit before compile", lambda: fresh().fit(X, Y, verbose=0), "fresh_model", "compile")
case(G, "evaluate before compile", lambda: fresh().evaluate(X, Y, verbose=0), "compile")
case(G, "fit(epochs=-1)", lambda: m().fit(X, Y, epochs=-1, verbose=0), "epochs", "-1")
case(G, "fit(epochs='3')", lambda: m().fit(X, Y, epochs="3", verbose=0), "epochs", "3")
case(G, "fit(batch_size=0)", lambda: m().fit(X, Y, batch_size=0, verbose=0), "batch_size", "0")
case(G, "fit(batch_size=-8)", lambda: m().fit(X, Y, batch_size=-8, verbose=0), "batch_size",
     "-8")  # fmt: skip
case(G, "fit(batch_size=2.5)", lambda: m().fit(X, Y, batch_size=2.5, verbose=0), "batch_size",
     "2.5")  # fmt: skip
case(G, "fit(validation_split=1.5)", lambda: m().fit(X, Y, validation_split=1.5, verbose=0),
     "validation_split", "1.5")  # fmt: skip
case(G, "fit(validation_split='0.2')",
     lambda: m().fit(X, Y, validation_split="0.2", verbose=0), "validation_split", "0.2")
case(G, "fit(validation_data=X)", lambda: m().fit(X, Y, validation_data=X, verbose=0),
     "validation_data", "ndarray")  # fmt: skip
case(G, "fit(validation_data=(X,))", lambda: m().fit(X, Y, validation_data=(X,), verbose=0),
     "validation_data", "1")  # fmt: skip
case(G, "fit(verbose='loud')", lambda: m().fit(X, Y, verbose="loud"), "verbose", "loud")
case(G, "fit(callbacks=print)", lambda: m().fit(X, Y, verbose=0, callbacks=print), "callbacks",
     "print")  # fmt: skip
case(G, "fit(callbacks=[3])", lambda: m().fit(X, Y, verbose=0, callbacks=[3]), "callback",
     "3")  # fmt: skip
case(G, "fit(initial_epoch=-1)", lambda: m().fit(X, Y, initial_epoch=-1, verbose=0),
     "initial_epoch", "-1")  # fmt: skip
case(G, "fit(steps_per_epoch=0)", lambda: m().fit(X, Y, steps_per_epoch=0, verbose=0),
     "steps_per_epoch", "0")  # fmt: skip
case(G, "fit(validation_freq=0)",
     lambda: m().fit(X, Y, validation_data=(X, Y), validation_freq=0, verbose=0),
     "validation_freq", "0")  # fmt: skip
case(G, "fit(class_weight=[1, 2])", lambda: m().fit(X, Y, class_weight=[1, 2], verbose=0),
     "class_weight", "[1, 2]")  # fmt: skip
case(G, "fit(class_weight={'a': 1})", lambda: m().fit(X, Y, class_weight={"a": 1.0}, verbose=0),
     "class_weight", "a")  # fmt: skip
case(G, "fit on mismatched sample counts", lambda: m().fit(X, Y[:10], verbose=0), "16", "10")
case(G, "fit on sample_weight of another length",
     lambda: m().fit(X, Y, sample_weight=np.ones(5), verbose=0), "sample_weight", "5")
case(G, "fit on sample_weight of rank 3",
     lambda: m().fit(X, Y, sample_weight=np.ones((16, 2, 2)), verbose=0), "sample_weight",
     "(16, 2, 2)")  # fmt: skip
case(G, "fit on x of the wrong width", lambda: m().fit(arr(16, 5), Y, verbose=0), "4", "5")
case(G, "fit on x of rank 1", lambda: m().fit(np.ones(16, "float32"), Y, verbose=0),
     ("(16,)", "rank"))  # fmt: skip
case(G, "fit on x of rank 3", lambda: m().fit(arr(16, 4, 1), Y, verbose=0), "(16, 4, 1)")
case(G, "fit on empty x", lambda: m().fit(arr(0, 4), Y[:0], verbose=0), ("empty", "0 samples"))
case(G, "fit on a scalar x", lambda: m().fit(np.float32(1.0), Y, verbose=0), "x", "number")
case(G, "fit on text x", lambda: m().fit(np.array([["a"] * 4] * 16), Y, verbose=0), "text")
case(G, "fit on x of objects", lambda: m().fit(np.array([[object()] * 4] * 16), Y, verbose=0),
     "x", "object")  # fmt: skip
case(G, "fit on x a set", lambda: m().fit({1, 2, 3}, Y, verbose=0), "x", "set")
case(G, "fit on x a string", lambda: m().fit("data.csv", Y, verbose=0), "data.csv")
case(G, "fit on x None", lambda: m().fit(None, Y, verbose=0), "x", "None")
case(G, "fit on ragged lists", lambda: m().fit([[1, 2, 3, 4], [1, 2]], Y[:2], verbose=0), "x",
     "different lengths", "np.asarray")  # fmt: skip
case(G, "fit on complex x", lambda: m().fit(arr(16, 4).astype(complex), Y, verbose=0), "x",
     "complex")  # fmt: skip
case(G, "fit labels out of range", lambda: m().fit(X, Y + 3, verbose=0), "labels", "[0, 3)")
case(G, "fit negative labels", lambda: m().fit(X, Y - 1, verbose=0), "-1", "3")
case(G, "fit labels of text", lambda: m().fit(X, np.array(["a"] * 16), verbose=0), "y",
     ("str", "<U1", "text"))  # fmt: skip
case(G, "fit one-hot y for sparse loss", lambda: m().fit(X, np.eye(3)[Y], verbose=0),
     ("(16, 3)", "(None, 3)", "shape"))  # fmt: skip
case(G, "fit with a dict x of a wrong name", lambda: m().fit({"nope": X}, Y, verbose=0), "nope")
case(G, "fit with two inputs for a one-input model", lambda: m().fit([X, X], Y, verbose=0),
     "2", ("1 input", "one input", "expects 1"))  # fmt: skip
case(G, "evaluate on mismatched samples", lambda: m().evaluate(X, Y[:3], verbose=0), "16", "3")
case(G, "evaluate(batch_size=0)", lambda: m().evaluate(X, Y, batch_size=0, verbose=0),
     "batch_size", "0")  # fmt: skip
case(G, "evaluate on a wrong width", lambda: m().evaluate(arr(16, 7), Y, verbose=0), "4", "7")
case(G, "predict(batch_size=-1)", lambda: m().predict(X, batch_size=-1, verbose=0),
     "batch_size", "-1")  # fmt: skip
case(G, "predict on a wrong width", lambda: m().predict(arr(3, 6), verbose=0), "4", "6")
case(G, "predict on empty x", lambda: m().predict(arr(0, 4), verbose=0), ("empty", "no data"))
case(G, "predict on a dict of objects", lambda: m().predict({"a": object()}, verbose=0), "x",
     "object")  # fmt: skip
case(G, "predict on text", lambda: m().predict(np.array([["a"] * 4]), verbose=0), "text")
case(G, "predict(steps=-1)", lambda: m().predict(X, steps=-1, verbose=0), "steps", "-1")
case(G, "model(x) on a wrong width", lambda: m()(arr(2, 9)), "4", "9")
case(G, "model(x) on text", lambda: m()(np.array([["a"] * 4])), "text")
case(G, "train_on_batch on mismatched samples", lambda: m().train_on_batch(X, Y[:4]), "16", "4")
case(G, "train_on_batch with NaN", lambda: m().train_on_batch(np.full((2, 4), np.nan), Y[:2]),
     "x", "NaN")  # fmt: skip
case(G, "set_weights with too few arrays", lambda: m().set_weights(m().get_weights()[:2]),
     "2", "4")  # fmt: skip
case(G, "set_weights with a wrong shape",
     lambda: m().set_weights([np.ones((5, 8))] + m().get_weights()[1:]), "(5, 8)", "(4, 8)")
case(G, "set_weights with text",
     lambda: m().set_weights([np.full((4, 8), "a")] + m().get_weights()[1:]),
     ("str", "<U1", "text"))  # fmt: skip
case(G, "set_weights with None", lambda: m().set_weights(None), "None")
case(G, "Layer.set_weights with a wrong shape",
     lambda: m().layers[0].set_weights([np.ones((4, 9)), np.ones(8)]), "(4, 9)", "(4, 8)")
case(G, "Layer.set_weights with NaN-free objects",
     lambda: m().layers[0].set_weights([object(), np.ones(8)]), "object")
case(G, "Variable.assign of a wrong shape",
     lambda: m().layers[0].kernel.assign(np.ones((3, 3))), "(3, 3)", "(4, 8)")
case(G, "get_layer of an unknown name", lambda: m().get_layer("nope"), "nope")
case(G, "get_layer(index=99)", lambda: m().get_layer(index=99), "99")
case(G, "Sequential of a non-layer", lambda: keras.Sequential([3]), "3", ("int", "layer"))
case(G, "Sequential.add(None)", lambda: keras.Sequential().add(None), "None")
case(G, "Model(inputs=X)", lambda: keras.Model(X, X), "inputs", ("ndarray", "array"))
case(G, "Model with an output not from the inputs",
     lambda: keras.Model(keras.Input((3,)), keras.Input((3,))), ("input", "connected"))
case(G, "Dense of 10^7 x 10^7 units",
     lambda: keras.Sequential([keras.Input((10**7,)), layers.Dense(10**7)]), "kernel",
     ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "Embedding of 10^12 rows",
     lambda: keras.Sequential([keras.Input((3,), dtype="int32"), layers.Embedding(10**12, 8)]),
     "embeddings", ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "Conv2D of 10^6 filters",
     lambda: keras.Sequential([keras.Input((8, 8, 10**6)), layers.Conv2D(10**6, 3)]),
     "kernel", ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "predict with a batch of 10^9 rows",
     lambda: m().predict(np.broadcast_to(np.ones(4, "float32"), (10**10, 4)), batch_size=10**10,
                         verbose=0), "batch_size", ("memory", "GB", "TB"),
     errors=(MemoryError, ValueError))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# ops, losses, metrics, initializers, the datasets and the data utilities.
G = "ops_and_data"
case(G, "ops.matmul of mismatched dims", lambda: ops.matmul(arr(2, 3), arr(4, 5)), "(2, 3)",
     "(4, 5)")  # fmt: skip
case(G, "ops.add of unbroadcastable shapes", lambda: ops.add(arr(2, 3), arr(4)), "(2, 3)",
     "(4,)")  # fmt: skip
case(G, "ops.reshape to a wrong size", lambda: ops.reshape(arr(2, 3), (4, 2)), "(4, 2)", "(2, 3)")
case(G, "ops.reshape with two -1", lambda: ops.reshape(arr(2, 3), (-1, -1)), "-1")
case(G, "ops.sum over a missing axis", lambda: ops.sum(arr(2, 3), axis=5), "axis", "5")
case(G, "ops.mean over axis text", lambda: ops.mean(arr(2, 3), axis="rows"), "axis", "rows")
case(G, "ops.transpose with a bad permutation", lambda: ops.transpose(arr(2, 3), (0, 0)),
     "(0, 0)")  # fmt: skip
case(G, "ops.concatenate of mismatched shapes",
     lambda: ops.concatenate([arr(2, 3), arr(2, 4)], axis=0), "(2, 3)", "(2, 4)")
case(G, "ops.concatenate of nothing", lambda: ops.concatenate([]), ("empty", "no tensors", "[]"))
case(G, "ops.stack of different shapes", lambda: ops.stack([arr(2), arr(3)]), "(2,)", "(3,)")
case(G, "ops.softmax over a missing axis", lambda: ops.softmax(arr(2, 3), axis=4), "axis", "4")
case(G, "ops.one_hot with num_classes=0", lambda: ops.one_hot(np.array([1]), 0),
     "num_classes", "0")  # fmt: skip
case(G, "ops.take out of range", lambda: ops.take(arr(3, 2), np.array([5]), axis=0), "5", "3",
     errors=(ValueError, IndexError))  # fmt: skip
case(G, "ops.conv with a channel mismatch",
     lambda: ops.conv(arr(1, 5, 5, 3), arr(3, 3, 4, 2)), "3", "4")
case(G, "ops.conv of rank 2", lambda: ops.conv(arr(5, 5), arr(3, 3)), "(5, 5)")
case(G, "ops.conv(padding='full')",
     lambda: ops.conv(arr(1, 5, 5, 1), arr(3, 3, 1, 1), padding="full"), "padding", "full")
case(G, "ops.conv(strides=0)",
     lambda: ops.conv(arr(1, 5, 5, 1), arr(3, 3, 1, 1), strides=0), "strides", "0")
case(G, "ops.max_pool(pool_size=0)", lambda: ops.max_pool(arr(1, 4, 4, 1), 0), "pool_size", "0")
case(G, "ops.cast to a bad dtype", lambda: ops.cast(arr(2), "float17"), "float17")
case(G, "ops.convert_to_tensor of an object", lambda: ops.convert_to_tensor(object()),
     "object")  # fmt: skip
case(G, "ops.convert_to_tensor of text", lambda: ops.convert_to_tensor(["a", "b"]),
     ("str", "<U1", "text", "string"))  # fmt: skip
case(G, "ops.zeros with a negative dim", lambda: ops.zeros((2, -3)), "-3")
case(G, "ops.zeros of 10^15 elements", lambda: ops.zeros((10**5, 10**5, 10**5)), "zeros",
     ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "ops.ones of a text shape", lambda: ops.ones("big"), "big")
case(G, "ops.arange with step 0", lambda: ops.arange(0, 5, 0), "step", "0")
case(G, "ops.split into uneven parts", lambda: ops.split(arr(5), 2), "5", "2")
case(G, "ops.tile with negative reps", lambda: ops.tile(arr(2), (-1,)), "-1")
case(G, "ops.squeeze of a non-1 axis", lambda: ops.squeeze(arr(2, 3), axis=0), "axis", "2")
case(G, "ops.expand_dims at axis 9", lambda: ops.expand_dims(arr(2), 9), "axis", "9")
case(G, "ops.einsum with a bad subscript", lambda: ops.einsum("ij,jk->ik", arr(2, 3), arr(4, 5)),
     "ij,jk->ik")  # fmt: skip
case(G, "ops.getitem out of range", lambda: ops.convert_to_tensor(arr(3))[5], "5", "3",
     errors=(ValueError, IndexError))  # fmt: skip
case(G, "ops.where of mismatched shapes", lambda: ops.where(arr(2, 3) > 0, arr(4), arr(2, 3)),
     "(4,)")  # fmt: skip
case(G, "ops.sparse_categorical_crossentropy out of range",
     lambda: ops.sparse_categorical_crossentropy(np.array([4]), arr(1, 3)), "4", "3")
case(G, "losses.get('msq')", lambda: keras.losses.get("msq"), "msq")
case(G, "metrics.get('acc_uracy')", lambda: keras.metrics.get("acc_uracy"), "acc_uracy")
case(G, "activations.get('reluu')", lambda: keras.activations.get("reluu"), "reluu")
case(G, "initializers.get(3.5)", lambda: keras.initializers.get(3.5), "3.5")
case(G, "optimizers.get('adamm')", lambda: keras.optimizers.get("adamm"), "adamm")
case(G, "regularizers.L2(-1)", lambda: keras.regularizers.L2(-1.0), "l2", "-1")
case(G, "MeanSquaredError()(mismatched)",
     lambda: keras.losses.MeanSquaredError()(arr(4, 3), arr(4, 2)), "(4, 3)", "(4, 2)")
case(G, "SparseCategoricalCrossentropy label out of range",
     lambda: keras.losses.SparseCategoricalCrossentropy()(np.array([7]), arr(1, 3) / 3), "7",
     "3")  # fmt: skip
case(G, "Accuracy on mismatched counts",
     lambda: keras.metrics.Accuracy().update_state(arr(4), arr(3)), "(4,)", "(3,)")
case(G, "to_categorical(num_classes=0)", lambda: keras.utils.to_categorical([1, 2], 0),
     "num_classes", "0")  # fmt: skip
case(G, "to_categorical label >= num_classes", lambda: keras.utils.to_categorical([1, 5], 3),
     "5", "3")  # fmt: skip
case(G, "to_categorical negative label", lambda: keras.utils.to_categorical([-1, 0], 3), "-1")
case(G, "to_categorical of floats", lambda: keras.utils.to_categorical([0.5, 1.5], 3), "0.5")
case(G, "to_categorical of text", lambda: keras.utils.to_categorical(["a"], 3), ("str", "a"))
case(G, "normalize(order=0)", lambda: keras.utils.normalize(arr(2, 3), order=0), "order", "0")
case(G, "normalize(axis=5)", lambda: keras.utils.normalize(arr(2, 3), axis=5), "axis", "5")
case(G, "pad_sequences(maxlen=-1)", lambda: keras.utils.pad_sequences([[1, 2]], maxlen=-1),
     "maxlen", "-1")  # fmt: skip
case(G, "pad_sequences(padding='middle')",
     lambda: keras.utils.pad_sequences([[1, 2]], padding="middle"), "padding", "middle")
case(G, "pad_sequences(truncating='middle')",
     lambda: keras.utils.pad_sequences([[1, 2]], truncating="middle"), "truncating", "middle")
case(G, "pad_sequences of a non-sequence", lambda: keras.utils.pad_sequences(5), "5")
case(G, "pad_sequences of text into ints", lambda: keras.utils.pad_sequences([["a", "b"]]),
     ("str", "'a'", "text"))  # fmt: skip
case(G, "pad_sequences(dtype='int17')",
     lambda: keras.utils.pad_sequences([[1, 2]], dtype="int17"), "dtype", "int17")
case(G, "timeseries(sequence_length=0)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 0), "sequence_length",
     "0")  # fmt: skip
case(G, "timeseries(sequence_stride=0)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, sequence_stride=0),
     "sequence_stride", "0")  # fmt: skip
case(G, "timeseries(batch_size=-1)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, batch_size=-1),
     "batch_size", "-1")  # fmt: skip
case(G, "timeseries targets a scalar",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), 5.0, 3), "targets", "5.0")
case(G, "timeseries(start_index=20)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, start_index=20),
     "start_index", "20")  # fmt: skip
case(G, "split_dataset(left_size=2.0)",
     lambda: keras.utils.split_dataset(arr(10, 2), left_size=2.0), "left_size", "2.0")
case(G, "split_dataset(left_size=-3)",
     lambda: keras.utils.split_dataset(arr(10, 2), left_size=-3), "left_size", "-3")
case(G, "split_dataset of an int", lambda: keras.utils.split_dataset(5, left_size=0.5),
     "dataset", "int")  # fmt: skip
case(G, "imdb.load_data(num_words=-1)",
     lambda: keras.datasets.imdb.load_data(num_words=-1), "num_words", "-1")
case(G, "imdb.load_data(maxlen=0)", lambda: keras.datasets.imdb.load_data(maxlen=0), "maxlen",
     "0")  # fmt: skip
case(G, "imdb.load_data(skip_top=-2)", lambda: keras.datasets.imdb.load_data(skip_top=-2),
     "skip_top", "-2")  # fmt: skip
case(G, "imdb.load_data(path=3)", lambda: keras.datasets.imdb.load_data(path=3), "path", "3")
case(G, "mnist.load_data(path=None)", lambda: keras.datasets.mnist.load_data(path=None),
     "path", "None")  # fmt: skip
case(G, "digits.load_data(extra)", lambda: keras.datasets.digits.load_data("x"), "load_data",
     "1 was given")  # fmt: skip
case(G, "Progbar(target=-1)", lambda: keras.utils.Progbar(-1), "target", "-1")
case(G, "PyDataset(workers=0)", lambda: keras.utils.PyDataset(workers=0), "workers", "0")
case(G, "set_random_seed('seven')", lambda: keras.utils.set_random_seed("seven"), "seed",
     "seven")  # fmt: skip
case(G, "set_random_seed(-1)", lambda: keras.utils.set_random_seed(-1), "seed", "-1")
case(G, "config.set_floatx('float8')", lambda: keras.config.set_floatx("float8"), "float8")
case(G, "config.set_epsilon(-1)", lambda: keras.config.set_epsilon(-1.0), "-1")
case(G, "initializers.RandomNormal(stddev=-1)",
     lambda: keras.initializers.RandomNormal(stddev=-1.0), "stddev", "-1")
case(G, "initializers.Constant('a') on a weight",
     lambda: keras.initializers.Constant("a")((2, 2)), "a")


# ---------------------------------------------------------------------------------------------


def check(name, fn, errors, mentions) -> str | None:
    """None when the case behaves, else what went wrong."""
    try:
        fn()
    except errors as error:
        message = str(error)
        missing = [
            m for m in mentions
            if not any(alt in message for alt in (m if isinstance(m, tuple) else (m,)))
        ]  # fmt: skip
        if missing:
            return f"message lacks {missing}: {type(error).__name__}: {message[:400]}"
        internal = INTERNAL.search(message)
        if internal:
            return f"message names internals ({internal.group(0)}): {message[:400]}"
        return None
    except BaseException as error:  # noqa: BLE001 - a wrong kind of error is the finding
        lines = traceback.format_exception(error)
        return f"raised {type(error).__name__}: {str(error)[:300]} at {lines[-2].strip()[:200]}"
    return "no error was raised"


def still_works(model, expected) -> str | None:
    try:
        got = model.predict(X, verbose=0)
    except BaseException as error:  # noqa: BLE001
        return f"the probe model no longer predicts: {type(error).__name__}: {error}"
    if not np.array_equal(got, expected):
        return "the probe model's predictions changed"
    return None


def run(group: str) -> None:
    global MODEL
    MODEL = probe_model()
    expected = MODEL.predict(X, verbose=0)
    for name, fn, errors, mentions in CASES[group]:
        print(json.dumps({"start": name}), flush=True)
        problem = check(name, fn, errors, mentions) or still_works(MODEL, expected)
        if problem:  # the next cases compare with what the model predicts now
            expected = MODEL.predict(X, verbose=0)
        print(json.dumps({"case": name, "problem": problem}), flush=True)
    history = MODEL.fit(X, Y, epochs=2, verbose=0)  # and it still trains
    print(json.dumps({"trains": bool(np.isfinite(history.history["loss"]).all())}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--count":
        print(json.dumps({g: len(c) for g, c in CASES.items()}))
    else:
        run(sys.argv[1])
