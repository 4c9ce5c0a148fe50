"""The keras.io "Simple MNIST convnet" on 28x28x1 inputs: the Keras-API model and PyTorch's copy.

    keras.Sequential([keras.Input((28, 28, 1)),
                      Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                      Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
                      Flatten(), Dropout(0.5), Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(1e-3, epsilon=1e-7), loss="sparse_categorical_crossentropy")

PyTorch's copy: `nn.Sequential(Conv2d(1, 32, 3), ReLU, MaxPool2d(2), Conv2d(32, 64, 3), ReLU,
MaxPool2d(2), Flatten, Dropout(0.5), Linear(1600, 10))` on NCHW tensors holding the same weights
(a conv weight (out, in, kh, kw) is our kernel (kh, kw, in, out) transposed (3, 2, 0, 1); the
dense weight's rows are permuted from our NHWC flatten order (h, w, c) to torch's (c, h, w)),
trained the idiomatic way: logits into `nn.CrossEntropyLoss` (softmax included); its
predictions are `softmax(model(x))`.
"""

from __future__ import annotations

import numpy as np

INPUT = (28, 28, 1)
FILTERS = (32, 64)
CLASSES = 10
KERNEL = 3
FIT_BATCH = 128
PREDICT_BATCH = 512


def _shapes():
    """(h_out, w_out, c_in, c_out) of each conv, and the flattened size."""
    h, w, c = INPUT
    convs = []
    for filters in FILTERS:
        h, w = h - KERNEL + 1, w - KERNEL + 1
        convs.append((h, w, c, filters))
        h, w, c = h // 2, w // 2, filters
    return convs, (h, w, c)


def forward_flops(samples: int) -> float:
    """Multiply-adds x 2 of the convolutions and the dense layer (pooling, relu not counted)."""
    convs, (h, w, c) = _shapes()
    per = sum(2.0 * ho * wo * KERNEL * KERNEL * ci * co for ho, wo, ci, co in convs)
    per += 2.0 * h * w * c * CLASSES
    return per * samples


def weight_specs() -> list[tuple[str, tuple]]:
    """(name, shape) of every weight, in `model.weights` order."""
    convs, (h, w, c) = _shapes()
    specs = []
    for _, _, c_in, c_out in convs:
        specs += [("kernel", (KERNEL, KERNEL, c_in, c_out)), ("bias", (c_out,))]
    return specs + [("kernel", (h * w * c, CLASSES)), ("bias", (CLASSES,))]


def keras_model(keras=None, seed: int = 0):
    """The compiled convnet built with `keras` (kerasish when None, or Keras 3); its initial
    weights come from `set_random_seed(seed)`."""
    import common

    if keras is None:
        import kerasish as keras
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(INPUT),
            layers.Conv2D(FILTERS[0], kernel_size=(KERNEL, KERNEL), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(FILTERS[1], kernel_size=(KERNEL, KERNEL), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(optimizer=common.adam(keras), loss="sparse_categorical_crossentropy")
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same convnet (NCHW) holding `weights` (our layout, as `get_weights()`)."""
    import torch
    from torch import nn

    _, (h, w, c) = _shapes()
    model = nn.Sequential(
        nn.Conv2d(INPUT[2], FILTERS[0], KERNEL),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(FILTERS[0], FILTERS[1], KERNEL),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(h * w * c, CLASSES),
    )
    k1, b1, k2, b2, kd, bd = weights
    dense = kd.reshape(h, w, c, CLASSES).transpose(2, 0, 1, 3).reshape(h * w * c, CLASSES)
    pairs = ((model[0], k1.transpose(3, 2, 0, 1), b1), (model[3], k2.transpose(3, 2, 0, 1), b2))
    pairs += ((model[8], dense.T, bd),)
    with torch.no_grad():
        for module, weight, bias in pairs:
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            module.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return model


def torch_output(torch, logits):
    """What our `predict` returns (the softmax layer's output), from torch's logits."""
    return torch.softmax(logits, 1)


def images(samples: int, shape: tuple, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic images: x float32 (samples, *shape) uniform [0, 1), y int32 in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.random((samples, *shape), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=samples).astype(np.int32)
    return x, y


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 28x28x1 images and labels (`images`)."""
    return images(samples, INPUT, seed)


def torch_input(x: np.ndarray) -> np.ndarray:
    """Our NHWC images as the NCHW array torch's convolutions take."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
