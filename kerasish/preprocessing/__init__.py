"""`kerasish.preprocessing`: Keras' older home of the data utilities, kept for code written
against it (`keras.preprocessing.sequence.pad_sequences`)."""

from ..utils.timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
from . import sequence  # noqa: F401
