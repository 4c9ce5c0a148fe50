"""One small model per layer family, built with whichever Keras-like module is passed in:
real Keras (`import keras`) or kerasish (`import kerasish as keras`).

`record_keras_files.py` builds them in Keras and saves Keras' files for kerasish's tests;
`check_keras_loads.py` builds them in kerasish and checks that Keras loads kerasish's files.
Every model is compiled (Adam, a loss and metrics) and trained a few steps by the scripts,
so the files carry optimizer state; inference is deterministic (no active randomness).
RandomCrop is left out: Keras 3.15 passes images through it unchanged in inference (its
docstring says it crops), so Keras and kerasish differ there by design of that layer.

`MODELS` maps a name to `(build(keras) -> model, data(rng) -> (x, y), compile kwargs)`;
`TEXT_MODELS` lists the models that need TensorFlow in Keras (the text layers).
"""

from __future__ import annotations

import numpy as np

CORPUS = [
    "the cat sat on the mat",
    "the dog ate my homework",
    "a bird in the hand is worth two in the bush",
    "dogs and cats living together",
    "the quick brown fox jumps over the lazy dog",
    "to be or not to be",
]


def core(keras):
    layers = keras.layers
    norm = layers.Normalization()
    norm.adapt(np.random.default_rng(1).normal(2.0, 3.0, (40, 12)).astype("float32"))
    return keras.Sequential(
        [
            keras.Input((12,)),
            norm,
            layers.Dense(16, kernel_regularizer=keras.regularizers.L2(1e-3)),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dropout(0.2),
            layers.Reshape((4, 4)),
            layers.Permute((2, 1)),
            layers.Flatten(),
            layers.RepeatVector(2),
            layers.Flatten(),
            layers.PReLU(),
            layers.ELU(),
            layers.ActivityRegularization(l1=1e-4),
            layers.GaussianNoise(0.1),
            layers.GaussianDropout(0.1),
            layers.Dense(8, activation="tanh"),
            layers.ReLU(max_value=6.0),
            layers.UnitNormalization(),
            layers.Identity(),
            layers.Rescaling(2.0, offset=-0.5),
            layers.LayerNormalization(),
            layers.Activation("gelu"),
            layers.Dense(3),
            layers.Softmax(),
        ],
        name="core",
    )


def conv(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            layers.ZeroPadding2D(1),
            layers.Conv2D(4, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            layers.SeparableConv2D(6, 3),
            layers.MaxPooling2D(2),
            layers.UpSampling2D(2),
            layers.Cropping2D(1),
            layers.SpatialDropout2D(0.1),
            layers.Conv2DTranspose(3, 3, strides=2),
            layers.GroupNormalization(groups=3),
            layers.AveragePooling2D(2, padding="same"),
            layers.GlobalMaxPooling2D(),
            layers.Dense(2),
        ],
        name="conv",
    )


def conv1d(keras):
    layers = keras.layers
    inputs = keras.Input((16, 3))
    x = layers.Conv1D(5, 3, padding="causal", dilation_rate=2)(inputs)
    x = layers.ZeroPadding1D(2)(x)
    x = layers.Cropping1D((1, 1))(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.UpSampling1D(2)(x)
    x = layers.SpatialDropout1D(0.1)(x)
    x = layers.Conv1DTranspose(4, 3, strides=2, padding="same")(x)
    x = layers.AveragePooling1D(2)(x)
    pooled = [layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)]
    return keras.Model(inputs, layers.Dense(2)(layers.Concatenate()(pooled)), name="conv1d")


def merging(keras):
    layers = keras.layers
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    shared = layers.Dense(6, activation="tanh", name="shared")
    sa, sb = shared(a), shared(b)
    inner = keras.Sequential([keras.Input((6,)), layers.Dense(6, name="inner_dense")],
                             name="inner")  # fmt: skip
    merged = [
        layers.Add()([sa, sb]), layers.Subtract()([sa, sb]), layers.Multiply()([sa, sb]),
        layers.Average()([sa, sb]), layers.Maximum()([sa, sb]), layers.Minimum()([sa, sb]),
        inner(sa),
    ]  # fmt: skip
    dot = layers.Dot(axes=1, normalize=True)([sa, sb])
    joined = layers.Concatenate()([*merged, dot])
    return keras.Model({"a": a, "b": b}, [layers.Dense(2, name="out_a")(joined),
                                          layers.Dense(1, name="out_b")(dot)],
                       name="merging")  # fmt: skip


def recurrent(keras):
    layers = keras.layers
    inputs = keras.Input((7,), dtype="int32")
    x = layers.Embedding(20, 6, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(5, return_sequences=True))(x)
    x = layers.GRU(4, return_sequences=True, reset_after=False)(x)
    x = layers.SimpleRNN(4, return_sequences=True, go_backwards=True)(x)
    x = layers.TimeDistributed(layers.Dense(3))(x)
    cells = layers.StackedRNNCells([layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(2)])
    x = layers.RNN(cells)(x)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x), name="recurrent")


def masked_sequence(keras):
    layers = keras.layers
    inputs = keras.Input((6, 4))
    x = layers.Masking(mask_value=0.0)(inputs)
    x = layers.LSTM(3, return_sequences=True, go_backwards=False)(x)
    x = layers.SimpleRNN(2)(x)
    return keras.Model(inputs, layers.Dense(2)(x), name="masked_sequence")


def attention(keras):
    layers = keras.layers
    query, value = keras.Input((5, 8), name="query"), keras.Input((4, 8), name="value")
    x = layers.MultiHeadAttention(num_heads=2, key_dim=3)(query, value)
    x = layers.LayerNormalization()(layers.Add()([x, query]))
    y = layers.Attention(use_scale=True)([x, value])
    z = layers.AdditiveAttention()([y, value])
    pooled = layers.GlobalAveragePooling1D()(z)
    return keras.Model([query, value], layers.Dense(2)(pooled), name="attention")


def image(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            layers.Resizing(10, 10),
            layers.RandomFlip(),
            layers.RandomRotation(0.1),
            layers.RandomTranslation(0.1, 0.1),
            layers.RandomZoom(0.1),
            layers.RandomContrast(0.2),
            layers.CenterCrop(8, 8),
            layers.Conv2D(2, 3),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ],
        name="image",
    )


def text(keras):
    layers = keras.layers
    vectorize = layers.TextVectorization(max_tokens=30, output_sequence_length=6)
    vectorize.adapt(CORPUS)
    tfidf = layers.TextVectorization(max_tokens=20, output_mode="tf_idf")
    tfidf.adapt(CORPUS)
    inputs = keras.Input((1,), dtype="string")
    ids = vectorize(inputs)
    x = layers.GlobalAveragePooling1D()(layers.Embedding(30, 4)(ids))
    x = layers.Concatenate()([x, layers.Dense(3)(layers.Flatten()(tfidf(inputs)))])
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x), name="text")


def lookup(keras):
    layers = keras.layers
    words = layers.StringLookup(output_mode="one_hot")
    words.adapt(np.array([w for line in CORPUS for w in line.split()][:40]))
    numbers = layers.IntegerLookup(output_mode="multi_hot")
    numbers.adapt(np.array([3, 7, 7, 9, 12, 12, 12, 40]))
    word_in = keras.Input((1,), dtype="string", name="word")
    number_in = keras.Input((3,), dtype="int64", name="numbers")
    x = layers.Concatenate()([words(word_in), numbers(number_in)])
    return keras.Model([word_in, number_in], layers.Dense(2)(x), name="lookup")


def _floats(rng, *shape):
    return rng.standard_normal(shape).astype("float32")


MODELS = {
    "core": (core, lambda rng: (_floats(rng, 8, 12), np.eye(3)[rng.integers(0, 3, 8)]),
             {"loss": "categorical_crossentropy", "metrics": ["accuracy", "mae"]}),
    "conv": (conv, lambda rng: (_floats(rng, 4, 10, 10, 3), _floats(rng, 4, 2)),
             {"loss": "mse", "metrics": ["mae"]}),
    "conv1d": (conv1d, lambda rng: (_floats(rng, 4, 16, 3), _floats(rng, 4, 2)),
               {"loss": "huber", "metrics": ["mse"]}),
    "merging": (merging,
                lambda rng: ({"a": _floats(rng, 5, 6), "b": _floats(rng, 5, 6)},
                             [_floats(rng, 5, 2), _floats(rng, 5, 1)]),
                {"loss": ["mse", "mae"], "loss_weights": [1.0, 0.5],
                 "metrics": [["mae"], ["mse"]]}),
    "recurrent": (recurrent,
                  lambda rng: (np.where(rng.random((6, 7)) < 0.2, 0, rng.integers(1, 20, (6, 7)))
                               .astype("int32"), rng.integers(0, 2, (6, 1)).astype("float32")),
                  {"loss": "binary_crossentropy", "metrics": ["accuracy"]}),
    "masked_sequence": (masked_sequence,
                        lambda rng: (np.where(np.arange(6)[None, :, None] < 4,
                                              _floats(rng, 3, 6, 4), 0.0).astype("float32"),
                                     _floats(rng, 3, 2)),
                        {"loss": "mse"}),
    "attention": (attention, lambda rng: ([_floats(rng, 3, 5, 8), _floats(rng, 3, 4, 8)],
                                          _floats(rng, 3, 2)),
                  {"loss": "mse", "metrics": ["mae"]}),
    "image": (image, lambda rng: (_floats(rng, 3, 12, 12, 3), _floats(rng, 3, 2)),
              {"loss": "mse"}),
    "text": (text, lambda rng: (np.array([[s] for s in CORPUS[:4]] + [["an unseen cat"]]),
                                rng.integers(0, 2, (5, 1)).astype("float32")),
             {"loss": "binary_crossentropy", "metrics": ["accuracy"]}),
    "lookup": (lookup, lambda rng: ([np.array([["the"], ["cat"], ["zebra"]]),
                                     np.array([[3, 7, 99], [12, 12, 9], [0, 40, 3]], "int64")],
                                    _floats(rng, 3, 2)),
               {"loss": "mse"}),
}  # fmt: skip
TEXT_MODELS = ("text", "lookup")


def compile_and_train(keras, model, x, y, compile_kwargs, steps=3):
    """Compiles with Adam(0.01) and trains `steps` batches on (x, y), so the optimizer has
    state and BatchNormalization statistics moved."""
    model.compile(optimizer=keras.optimizers.Adam(0.01), **compile_kwargs)
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model
