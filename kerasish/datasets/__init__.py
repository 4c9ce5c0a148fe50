"""Data set loaders, Keras style: each module has a `load_data()`."""

from . import digits

__all__ = ["digits"]
