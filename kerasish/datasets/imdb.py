"""IMDB movie reviews: 25,000 training and 25,000 test reviews as sequences of word indices,
labelled positive (1) or negative (0)."""

from __future__ import annotations

import json

import numpy as np

from ..utils.file_utils import check_file_name, get_file
from .safe_arrays import load_npz

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def _check_count(name: str, value, minimum: int, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"imdb.load_data: `{name}` must be an int >= {minimum}"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):  # fmt: skip
    """Loads the IMDB reviews, downloading them once into `~/.kerasish/datasets`.

    Words are indexed by how often they occur (word 1 is the most frequent). Each review is
    a list of indices, shifted by `index_from` and started with `start_char`; words rarer
    than `num_words` or among the `skip_top` most frequent become `oov_char` (or are dropped
    when it is None); reviews of `maxlen` words or more are left out. Both parts are
    shuffled with `seed`. The same arguments give the same arrays as Keras.
    `get_word_index()` maps words to their indices (before the `index_from` shift).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` are object arrays of Python lists of
        ints, `y_*` int arrays of 0/1 labels.

    Example:
        >>> (x_train, y_train), _ = imdb.load_data(num_words=10000)  # doctest: +SKIP
        >>> len(x_train), x_train[0][:3]  # doctest: +SKIP
        (25000, [1, 14, 22])
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unknown arguments {sorted(kwargs)}")
    _check_count("num_words", num_words, 1, allow_none=True)
    _check_count("skip_top", skip_top, 0, allow_none=False)
    _check_count("maxlen", maxlen, 1, allow_none=True)
    _check_count("index_from", index_from, 0, allow_none=False)
    check_file_name(path)
    path = get_file(fname=path, origin=ORIGIN_FOLDER + "imdb.npz", file_hash=SHA256)
    arrays = load_npz(path)
    x_train, labels_train = arrays["x_train"], arrays["y_train"]
    x_test, labels_test = arrays["x_test"], arrays["y_test"]

    rng = np.random.RandomState(seed)  # the order Keras gives, for the same seed
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, labels_train = x_train[order], labels_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, labels_test = x_test[order], labels_test[order]

    head = [] if start_char is None else [start_char]
    shift = index_from or 0
    x_train = [head + [w + shift for w in review] for review in x_train]
    x_test = [head + [w + shift for w in review] for review in x_test]
    if maxlen:
        kept_train = [i for i, review in enumerate(x_train) if len(review) < maxlen]
        kept_test = [i for i, review in enumerate(x_test) if len(review) < maxlen]
        if not kept_train or not kept_test:
            raise ValueError(
                f"imdb.load_data: no review is shorter than maxlen={maxlen}; increase it."
            )
        x_train, labels_train = [x_train[i] for i in kept_train], labels_train[kept_train]
        x_test, labels_test = [x_test[i] for i in kept_test], labels_test[kept_test]

    reviews = x_train + x_test
    if not num_words:
        num_words = max(max(review) for review in reviews if review)
    if oov_char is not None:
        reviews = [[w if skip_top <= w < num_words else oov_char for w in r] for r in reviews]
    else:
        reviews = [[w for w in r if skip_top <= w < num_words] for r in reviews]
    split = len(x_train)
    return (
        (_object_array(reviews[:split]), np.asarray(labels_train)),
        (_object_array(reviews[split:]), np.asarray(labels_test)),
    )


def _object_array(lists) -> np.ndarray:
    """A 1-D object array of the lists (Keras' `np.array(lists, dtype=object)` would make a
    2-D array when all have the same length)."""
    array = np.empty(len(lists), dtype=object)
    for i, review in enumerate(lists):
        array[i] = review
    return array


def get_word_index(path="imdb_word_index.json") -> dict:
    """The dict from each word to its index in `load_data`'s reviews (before the
    `index_from` shift), downloaded once into `~/.kerasish/datasets`.

    Example:
        >>> index = imdb.get_word_index()  # doctest: +SKIP
        >>> index["good"]  # doctest: +SKIP
        49
    """
    path = get_file(fname=path, origin=ORIGIN_FOLDER + "imdb_word_index.json",
                    file_hash=WORD_INDEX_MD5)  # fmt: skip
    with open(path, encoding="utf-8") as file:
        return json.load(file)
