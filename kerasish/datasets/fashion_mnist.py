"""Fashion-MNIST: 60,000 training and 10,000 test images of clothes, 28x28 grayscale."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ..utils.file_utils import get_file

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILES = (
    "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
)  # fmt: skip
_LABELS_MAGIC, _IMAGES_MAGIC = 2049, 2051  # IDX: unsigned bytes, 1 and 3 dimensions


def _read_idx(path: str, magic: int) -> np.ndarray:
    """The array of a gzip'd IDX file, its magic number and sizes checked (Keras pins no
    hash for these files). A bad file is deleted, so the next call downloads it again."""
    try:
        with gzip.open(path, "rb") as file:
            data = file.read()
        dims = 1 if magic == _LABELS_MAGIC else 3
        header = np.frombuffer(data[: 4 * (dims + 1)], ">u4")
        if len(header) != dims + 1 or header[0] != magic:
            raise ValueError(f"its header is not that of an IDX file of {dims} dimension(s)")
        shape = tuple(int(d) for d in header[1:])
        if dims == 3 and shape[1:] != (28, 28):
            raise ValueError(f"its images are {shape[1:]}, not 28x28")
        payload = data[4 * (dims + 1) :]
        if len(payload) != int(np.prod(shape)):
            raise ValueError(f"it holds {len(payload)} bytes of data for a shape of {shape}")
    except (OSError, EOFError, zlib.error, ValueError) as error:
        os.remove(path)
        raise ValueError(
            f"The Fashion-MNIST file {path} is corrupt ({error}); it was deleted, so loading "
            "again downloads it again."
        ) from error
    return np.frombuffer(payload, np.uint8).reshape(shape).copy()


def load_data():
    """Loads Fashion-MNIST, downloading it once into `~/.kerasish/datasets/fashion-mnist`.

    Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot. The four files come from Keras' own location; their IDX
    headers and sizes are checked. Fashion-MNIST is (c) Zalando SE, MIT license.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(n, 28, 28)` with
        pixel values 0..255, and uint8 labels of shape `(n,)`.

    Example:
        >>> (x_train, y_train), _ = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    paths = [
        get_file(
            name,
            origin=ORIGIN_FOLDER + name,
            cache_subdir=os.path.join("datasets", "fashion-mnist"),
        )  # fmt: skip
        for name in FILES
    ]
    y_train = _read_idx(paths[0], _LABELS_MAGIC)
    x_train = _read_idx(paths[1], _IMAGES_MAGIC)
    y_test = _read_idx(paths[2], _LABELS_MAGIC)
    x_test = _read_idx(paths[3], _IMAGES_MAGIC)
    for images, labels, part in ((x_train, y_train, "training"), (x_test, y_test, "test")):
        if len(images) != len(labels):
            raise ValueError(
                f"The Fashion-MNIST {part} files disagree: {len(images)} images but "
                f"{len(labels)} labels. Delete {os.path.dirname(paths[0])} and load again."
            )
    return (x_train, y_train), (x_test, y_test)
