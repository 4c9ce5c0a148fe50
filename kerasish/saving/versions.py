"""The versions our files name: the Keras format we write, and our own."""

from __future__ import annotations

# Files are written in the format of this Keras version (its config dialect and layouts),
# the one whose loader the interoperability checks run (tools/keras_interop).
KERAS_VERSION = "3.15.1"


def kerasish_version() -> str:
    import kerasish

    return kerasish.__version__
