"""`kerasish.utils`: helpers for users (seeding, label and array helpers, and more to come)."""

from backend.random import set_random_seed  # noqa: F401

from .dataset_utils import split_dataset  # noqa: F401
from .file_utils import get_file  # noqa: F401
from .numerical_utils import normalize, to_categorical  # noqa: F401
from .progbar import Progbar  # noqa: F401
from .py_dataset import PyDataset, Sequence  # noqa: F401
