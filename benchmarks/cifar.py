"""A CIFAR-shaped residual convnet (32x32x3): the Keras-API model and PyTorch's copy.

    x = Input((32, 32, 3))
    x = relu(BatchNormalization(Conv2D(32, 3, padding="same", use_bias=False)(x)))
    y = relu(BatchNormalization(Conv2D(32, 3, padding="same", use_bias=False)(x)))
    y = BatchNormalization(Conv2D(32, 3, padding="same", use_bias=False)(y))
    x = MaxPooling2D(2)(relu(Add()([x, y])))                                   # 16x16x32
    x = relu(BatchNormalization(Conv2D(64, 3, padding="same", use_bias=False)(x)))
    logits = Dense(10)(GlobalAveragePooling2D()(x))

compiled with Adam(1e-3, epsilon=1e-7) and sparse crossentropy from logits: one residual block
of a small ResNet, with batch normalization in training mode (batch statistics) and a residual
add in the backward pass. PyTorch's copy: the same layers on NCHW tensors (`nn.BatchNorm2d` with
Keras' epsilon 1e-3 and momentum 0.01, PyTorch's name for Keras' 0.99), holding the same
weights.
"""

from __future__ import annotations

import convnet
import numpy as np
from convnet import torch_input  # noqa: F401  (the same NHWC -> NCHW conversion)

INPUT = (32, 32, 3)
WIDTHS = (32, 64)
CLASSES = 10
KERNEL = 3
FIT_BATCH = 64
PREDICT_BATCH = 256
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99


def _convs() -> list[tuple[int, int, int, int]]:
    """(h_out, w_out, c_in, c_out) of each convolution, in order."""
    h, w, c = INPUT
    a, b = WIDTHS
    return [(h, w, c, a), (h, w, a, a), (h, w, a, a), (h // 2, w // 2, a, b)]


def forward_flops(samples: int) -> float:
    """Multiply-adds x 2 of the convolutions and the dense layer (normalization, pooling,
    relu and the add not counted)."""
    per = sum(2.0 * h * w * KERNEL * KERNEL * ci * co for h, w, ci, co in _convs())
    return (per + 2.0 * WIDTHS[-1] * CLASSES) * samples


def weight_specs() -> list[tuple[str, tuple]]:
    """(name, shape) of every weight, in `model.weights` order."""
    specs = []
    for _, _, c_in, c_out in _convs():
        specs.append(("kernel", (KERNEL, KERNEL, c_in, c_out)))
        specs += [(name, (c_out,)) for name in ("gamma", "beta", "moving_mean", "moving_variance")]
    return specs + [("kernel", (WIDTHS[-1], CLASSES)), ("bias", (CLASSES,))]


def keras_model(keras=None, seed: int = 0):
    """The compiled residual convnet built with `keras` (kerasish when None, or Keras 3); its
    initial weights come from `set_random_seed(seed)`."""
    import common

    if keras is None:
        import kerasish as keras
    layers = keras.layers
    keras.utils.set_random_seed(seed)

    def conv_bn(x, filters):
        x = layers.Conv2D(filters, KERNEL, padding="same", use_bias=False)(x)
        return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON)(x)

    inputs = keras.Input(INPUT)
    x = layers.Activation("relu")(conv_bn(inputs, WIDTHS[0]))
    y = layers.Activation("relu")(conv_bn(x, WIDTHS[0]))
    y = conv_bn(y, WIDTHS[0])
    x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Activation("relu")(conv_bn(x, WIDTHS[1]))
    outputs = layers.Dense(CLASSES)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=common.adam(keras),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def torch_model(weights: list[np.ndarray]):
    """PyTorch's same network (NCHW) holding `weights` (our layout, as `get_weights()`)."""
    import torch
    from torch import nn

    def conv_bn(c_in, c_out):
        conv = nn.Conv2d(c_in, c_out, KERNEL, padding=KERNEL // 2, bias=False)
        return conv, nn.BatchNorm2d(c_out, eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM)

    class ResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(
                nn.ModuleList(conv_bn(c_in, c_out)) for _, _, c_in, c_out in _convs()
            )
            self.dense = nn.Linear(WIDTHS[-1], CLASSES)

        def forward(self, x):
            (c1, n1), (c2, n2), (c3, n3), (c4, n4) = self.blocks
            x = torch.relu(n1(c1(x)))
            y = n3(c3(torch.relu(n2(c2(x)))))
            x = nn.functional.max_pool2d(torch.relu(x + y), 2)
            x = torch.relu(n4(c4(x)))
            return self.dense(x.mean(dim=(2, 3)))

    model = ResidualNet()
    values = {}
    rest = list(weights)
    for conv, norm in model.blocks:
        kernel, gamma, beta, mean, variance = rest[:5]
        del rest[:5]
        values[conv.weight] = kernel.transpose(3, 2, 0, 1)
        values[norm.weight], values[norm.bias] = gamma, beta
        values[norm.running_mean], values[norm.running_var] = mean, variance
    values[model.dense.weight], values[model.dense.bias] = rest[0].T, rest[1]
    with torch.no_grad():
        for tensor, value in values.items():
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def dataset(samples: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 32x32x3 images and labels in [0, 10) (`convnet.images`)."""
    return convnet.images(samples, INPUT, seed)
