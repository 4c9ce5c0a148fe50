"""`kerasish.preprocessing.sequence`: `pad_sequences` where Keras 2 code imports it from."""

from ..utils.sequence_utils import pad_sequences  # noqa: F401
