"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale."""

from __future__ import annotations

import numpy as np

from ..utils.file_utils import check_file_name, get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Loads MNIST, downloading it once into `~/.kerasish/datasets` (or `$KERASISH_HOME`).

    The file (11 MB) comes from Keras' own location and is checked against its SHA-256
    before use. `path` is the file name in the cache folder. Without internet access, the
    error says where to copy the file by hand.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(n, 28, 28)` with
        pixel values 0..255, and uint8 labels 0..9 of shape `(n,)`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000,))
    """
    check_file_name(path)
    path = get_file(fname=path, origin=ORIGIN, file_hash=SHA256)
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in _KEYS if key not in data.files]
        if missing:
            raise ValueError(f"{path} is not the MNIST file: it lacks {missing}.")
        x_train, y_train, x_test, y_test = (data[key] for key in _KEYS)
    return (x_train, y_train), (x_test, y_test)
