"""A text classifier on token sequences: the Keras-API model and PyTorch's copy.

    keras.Sequential([keras.Input((200,), dtype="int32"),
                      Embedding(20000, 128), LSTM(64), Dense(1)])
    model.compile(optimizer=Adam(1e-3, epsilon=1e-7), loss=BinaryCrossentropy(from_logits=True))

PyTorch's copy: `nn.Embedding(20000, 128)`, `nn.LSTM(128, 64, batch_first=True)` and
`nn.Linear(64, 1)` on the last hidden state, holding the same weights (torch's LSTM gate order
i, f, g, o is Keras' i, f, c, o; `weight_ih` is our kernel transposed, `weight_hh` our
recurrent kernel transposed, `bias_ih` our bias and `bias_hh` zero and frozen: Keras' LSTM
has one bias), trained the idiomatic way:
one logit into `nn.BCEWithLogitsLoss`; its predictions are the logits.
"""

from __future__ import annotations

import numpy as np

VOCAB = 20000
EMBED = 128
UNITS = 64
LENGTH = 200
FIT_BATCH = 32
PREDICT_BATCH = 256
BINARY = True  # torch's loop: one logit per sample, BCEWithLogitsLoss


def forward_flops(samples: int) -> float:
    """Multiply-adds x 2 of the LSTM's input and recurrent products and the dense layer (the
    embedding lookup and the gate nonlinearities not counted)."""
    gates = 4 * UNITS
    per_step = 2.0 * EMBED * gates + 2.0 * UNITS * gates
    return (LENGTH * per_step + 2.0 * UNITS) * samples


def weight_specs() -> list[tuple[str, tuple]]:
    """(name, shape) of every weight, in `model.weights` order."""
    return [
        ("embeddings", (VOCAB, EMBED)),
        ("kernel", (EMBED, 4 * UNITS)),
        ("recurrent_kernel", (UNITS, 4 * UNITS)),
        ("bias", (4 * UNITS,)),
        ("kernel", (UNITS, 1)),
        ("bias", (1,)),
    ]


def keras_model(keras=None, seed: int = 0):
    """The compiled classifier built with `keras` (kerasish when None, or Keras 3); its initial
    weights come from `set_random_seed(seed)`."""
    import common

    if keras is None:
        import kerasish as keras
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            layers.Embedding(VOCAB, EMBED),
            layers.LSTM(UNITS),
            layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=common.adam(keras), loss=keras.losses.BinaryCrossentropy(from_logits=True)
    )
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same classifier holding `weights` (our layout, as `get_weights()`)."""
    import torch
    from torch import nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
            self.dense = nn.Linear(UNITS, 1)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.dense(h[0])

    model = Classifier()
    table, kernel, recurrent, bias, dense_kernel, dense_bias = weights
    values = {
        model.embedding.weight: table,
        model.lstm.weight_ih_l0: kernel.T,
        model.lstm.weight_hh_l0: recurrent.T,
        model.lstm.bias_ih_l0: bias,
        model.lstm.bias_hh_l0: np.zeros_like(bias),
        model.dense.weight: dense_kernel.T,
        model.dense.bias: dense_bias,
    }
    with torch.no_grad():
        for parameter, value in values.items():
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    # Keras' LSTM has one bias; torch adds two, so one stays at zero (trained, both would move).
    model.lstm.bias_hh_l0.requires_grad_(False)
    return model


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic token sequences: x int32 (samples, 200) in [1, 20000), y float32 0/1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(samples, LENGTH)).astype(np.int32)
    y = rng.integers(0, 2, size=samples).astype(np.float32)
    return x, y


def torch_input(x: np.ndarray) -> np.ndarray:
    """Token ids as the int64 array `nn.Embedding` takes."""
    return x.astype(np.int64)
