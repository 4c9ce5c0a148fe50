"""The LSTM suite: a text classifier on token sequences, ours against PyTorch.

    keras.Sequential([keras.Input((200,), dtype="int32"),
                      Embedding(20000, 128), LSTM(64), Dense(1)])
    model.compile(optimizer=Adam(1e-3), loss=BinaryCrossentropy(from_logits=True))

PyTorch's equivalent: `nn.Embedding(20000, 128)`, `nn.LSTM(128, 64, batch_first=True)` and
`nn.Linear(64, 1)` on the last hidden state, holding our initial weights (torch's LSTM gate
order i, f, g, o is Keras' i, f, c, o; `weight_ih` is our kernel transposed, `weight_hh` our
recurrent kernel transposed, `bias_ih` our bias and `bias_hh` zero), trained the idiomatic way:
one logit into `nn.BCEWithLogitsLoss`, `torch.optim.Adam(lr=1e-3, eps=1e-7)`; predictions are
the logits under `torch.inference_mode()`.

- fit: samples/s of `model.fit(x, y, batch_size=32, epochs=1, shuffle=True)` over a fixed
  synthetic set, median of 3 epochs after a warm-up epoch, against PyTorch's loop
  (`keras_api.TorchFit`: randperm, index, zero_grad, forward, loss, backward, step).
- predict: samples/s of `model.predict(x, batch_size=256)` against PyTorch's loop over the same
  batches under `inference_mode`.

Before timing, our predictions on a batch are checked against PyTorch's (within 1e-4).
"""

from __future__ import annotations

import fit_predict
import keras_api
import numpy as np

VOCAB = 20000
EMBED = 128
UNITS = 64
LENGTH = 200
FIT_BATCH = 32
FIT_BATCHES = 40
PREDICT_BATCH = 256
PREDICT_BATCHES = 4


def forward_flops(samples: int) -> float:
    """Multiply-adds x 2 of the LSTM's input and recurrent products and the dense layer (the
    embedding lookup and the gate nonlinearities not counted)."""
    gates = 4 * UNITS
    per_step = 2.0 * EMBED * gates + 2.0 * UNITS * gates
    return (LENGTH * per_step + 2.0 * UNITS) * samples


def keras_model(seed: int = 0):
    """The compiled kerasish classifier; its initial weights come from `set_random_seed(seed)`."""
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
        optimizer=keras.optimizers.Adam(keras_api.LEARNING_RATE, epsilon=keras_api.EPSILON),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same classifier holding `weights` (our layout, from `get_weights()`)."""
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
    return model


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic token sequences: x int32 (samples, 200) in [1, 20000), y float32 0/1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(samples, LENGTH)).astype(np.int32)
    y = rng.integers(0, 2, size=samples).astype(np.float32)
    return x, y


def workload(ctx) -> fit_predict.Workload:
    return fit_predict.Workload(
        name=f"LSTM predict on ({PREDICT_BATCH}, {LENGTH})",
        batch=FIT_BATCH,
        samples=ctx.fit_samples or FIT_BATCH * (8 if ctx.quick else FIT_BATCHES),
        predict_batch=PREDICT_BATCH,
        predict_samples=PREDICT_BATCH * (1 if ctx.quick else PREDICT_BATCHES),
        keras_model=keras_model,
        torch_model=torch_model,
        dataset=dataset,
        forward_flops=forward_flops,
        torch_input=lambda x: x.astype(np.int64),
        binary=True,
    )


def measure_lstm(ctx) -> dict:
    return fit_predict.measure(ctx, workload(ctx))


def report_lstm(result: dict, peak: dict, ctx) -> tuple[list[str], dict]:
    title = (
        f"text classifier (Embedding {VOCAB}x{EMBED} -> LSTM {UNITS} -> Dense 1), "
        f"length-{LENGTH} int32 sequences, Adam, BinaryCrossentropy from logits"
    )
    return fit_predict.report(result, peak, workload(ctx), title)
