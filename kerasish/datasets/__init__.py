"""Data set loaders, Keras style: each module has a `load_data()`.

`digits` is bundled and works offline; `mnist`, `fashion_mnist`, `cifar10` and `imdb`
download their files once (checked against known hashes) into `~/.kerasish/datasets`, or
`$KERASISH_HOME/datasets`.
"""

from . import cifar10, digits, fashion_mnist, imdb, mnist

__all__ = ["cifar10", "digits", "fashion_mnist", "imdb", "mnist"]
