"""`kerasish.utils`: helpers for users (seeding, label and array helpers, saving images)."""

from backend.random import set_random_seed  # noqa: F401

from .image_utils import save_img  # noqa: F401
from .numerical_utils import normalize, to_categorical  # noqa: F401
from .py_dataset import PyDataset  # noqa: F401
