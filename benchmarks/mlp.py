"""The 784-512-512-10 MLP: the Keras-API model, PyTorch's copy, and its raw training step.

`keras_model(keras)` builds the model through the Keras API (kerasish or Keras 3: the same
code for both), `torch_model(weights)` PyTorch's `nn.Sequential` of `nn.Linear` holding the
same weights (a Linear's weight is our kernel transposed).

The raw training step (`startup.py` and the suite's opt-in `mlp-step` workload):

One step = forward (relu, relu, logits), sparse softmax crossentropy from logits averaged over
the batch, backward, and a plain SGD update of every weight. The three runners start from the
same weights and data, so their losses can be compared before anything is timed:

- `KerasishStep(compiled=False)`: the step run eagerly, op by op, with a GradientTape and
  `Variable.assign_sub`, as `examples/train_digits.py` does.
- `KerasishStep(compiled=True)`: the same Python function handed to
  `backend.compiler.function`, which traces it once per input signature into a Plan.
- `TorchStep`: PyTorch's same step (nn.Linear layers, F.cross_entropy, torch.optim.SGD).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

LAYERS = (784, 512, 512, 10)
LEARNING_RATE = 0.01


def forward_flops(batch: int, layers=LAYERS) -> int:
    """2 FLOPs per multiply-add of the three matmuls (bias, relu and the loss not counted)."""
    return 2 * batch * sum(a * b for a, b in pairwise(layers))


def train_flops(batch: int, layers=LAYERS) -> int:
    """A training step counts as 3x the forward: the forward, dX and dW matmuls."""
    return 3 * forward_flops(batch, layers)


def initial_weights(seed: int = 0, layers=LAYERS) -> list[np.ndarray]:
    """Glorot-uniform kernels (in, out) and zero biases, float32, as Keras' Dense."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in pairwise(layers):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        weights.append(np.zeros(fan_out, dtype=np.float32))
    return weights


def batch_data(batch: int, seed: int = 1, layers=LAYERS) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random batch: x float32 (batch, 784), y int32 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, layers[0]), dtype=np.float32)
    y = rng.integers(0, layers[-1], size=batch).astype(np.int32)
    return x, y


def make_train_step(params: list, learning_rate: float = LEARNING_RATE):
    """The training step as a user writes it with kerasish: ops, a GradientTape, assign_sub.

    `train_step(x, y)` returns the loss. The same function runs eagerly or is handed to the
    compiler.
    """
    import kerasish as keras
    from kerasish import ops

    def train_step(x, y):
        with keras.GradientTape() as tape:
            h = x
            for i in range(0, len(params) - 2, 2):
                h = ops.relu(ops.matmul(h, params[i]) + params[i + 1])
            logits = ops.matmul(h, params[-2]) + params[-1]
            loss = ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, params)
        for var, grad in zip(params, grads, strict=True):
            var.assign_sub(learning_rate * grad)
        return loss

    return train_step


class KerasishStep:
    """Our step, eager or compiled. `compiled=True` raises if the compiler is unavailable."""

    def __init__(self, batch: int, *, compiled: bool, seed: int = 0):
        import kerasish as keras

        names = ("w1", "b1", "w2", "b2", "w3", "b3")
        self.params = [
            keras.Variable(w, name=n) for w, n in zip(initial_weights(seed), names, strict=True)
        ]
        self.x, self.y = batch_data(batch)
        self.train_step = make_train_step(self.params)
        if compiled:
            from backend import compiler  # ImportError until the compiler lands

            if not hasattr(compiler, "function"):
                raise AttributeError("backend.compiler has no `function` yet")
            self.fn = compiler.function(self.train_step)
        else:
            self.fn = self.train_step

    def __call__(self) -> float:
        return float(np.asarray(self.fn(self.x, self.y)))

    def weights(self) -> list[np.ndarray]:
        return [np.array(p.numpy()) for p in self.params]


class TorchStep:
    """PyTorch's same step on CPU: tensors built beforehand, optimizer.SGD, no autograd tricks."""

    def __init__(self, batch: int, *, seed: int = 0):
        import torch
        import torch.nn.functional as F
        from torch import nn

        self.torch = torch
        self.F = F
        layers = LAYERS
        weights = initial_weights(seed)
        self.linears = [nn.Linear(a, b) for a, b in pairwise(layers)]
        with torch.no_grad():
            for i, linear in enumerate(self.linears):
                linear.weight.copy_(torch.from_numpy(weights[2 * i].T.copy()))
                linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
        self.model = nn.Sequential(
            self.linears[0], nn.ReLU(), self.linears[1], nn.ReLU(), self.linears[2]
        )
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE)
        x, y = batch_data(batch)
        self.x = torch.from_numpy(x)
        self.y = torch.from_numpy(y.astype(np.int64))

    def __call__(self) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def weights(self) -> list[np.ndarray]:
        out = []
        for linear in self.linears:
            out.append(linear.weight.detach().numpy().T.copy())
            out.append(linear.bias.detach().numpy().copy())
        return out


# --------------------------------------------------------------------------------------------
# The Keras-API model and PyTorch's copy

FIT_BATCH = 128
PREDICT_BATCH = 1024


def weight_specs() -> list[tuple[str, tuple]]:
    """(name, shape) of every weight, in `model.weights` order."""
    specs = []
    for fan_in, fan_out in pairwise(LAYERS):
        specs += [("kernel", (fan_in, fan_out)), ("bias", (fan_out,))]
    return specs


def keras_model(keras=None):
    """The MLP through the Keras API, compiled with Adam and sparse crossentropy from logits.

    `keras` is the module to build it with (kerasish when None, or Keras 3): the same code
    builds ours and Keras' model.
    """
    import common

    if keras is None:
        import kerasish as keras
    *hidden, out = LAYERS[1:]
    model = keras.Sequential(
        [
            keras.Input((LAYERS[0],)),
            *(keras.layers.Dense(units, activation="relu") for units in hidden),
            keras.layers.Dense(out),
        ]
    )
    model.compile(
        optimizer=common.adam(keras),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same MLP (nn.Sequential of nn.Linear and nn.ReLU) holding `weights`."""
    import torch
    from torch import nn

    modules = []
    for i, (fan_in, fan_out) in enumerate(pairwise(LAYERS)):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights[2 * i].T)))
            linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
        modules.append(linear)
        if i < len(LAYERS) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic data: x float32 (samples, 784) standard normal, y int32 labels in [0, 10)."""
    return batch_data(samples, seed=seed)
