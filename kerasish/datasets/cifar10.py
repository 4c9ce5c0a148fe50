"""CIFAR-10: 50,000 training and 10,000 test color images, 32x32, in 10 classes."""

from __future__ import annotations

import numpy as np

from ..utils.file_utils import get_file
from .safe_arrays import load_pickle

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_FOLDER = "cifar-10-batches-py"


def _read_batch(archive, name: str):
    member = archive.extractfile(f"{_FOLDER}/{name}")
    if member is None:
        raise ValueError(f"the archive has no file {_FOLDER}/{name}")
    batch = load_pickle(member, encoding="bytes")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], np.uint8)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{name} holds {data.dtype} data of shape {data.shape}")
    if len(labels) != len(data):
        raise ValueError(f"{name} has {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.reshape(-1, 1)


def load_data():
    """Loads CIFAR-10, downloading it once (163 MB) into `~/.kerasish/datasets`.

    Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse,
    8 ship, 9 truck. The archive's SHA-256 is checked before it is read; the pickled
    batches inside are read with an unpickler that rebuilds numpy arrays only.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(n, 32, 32, 3)`
        (channels last) and uint8 labels of shape `(n, 1)`, as Keras returns them.

    Example:
        >>> (x_train, y_train), _ = cifar10.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000, 1))
    """
    import tarfile

    path = get_file("cifar-10-python.tar.gz", origin=ORIGIN, file_hash=SHA256)
    try:
        with tarfile.open(path, "r:gz") as archive:
            train = [_read_batch(archive, f"data_batch_{i}") for i in range(1, 6)]
            x_test, y_test = _read_batch(archive, "test_batch")
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise ValueError(f"{path} is not a CIFAR-10 archive: {error}") from error
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), (x_test, y_test)
