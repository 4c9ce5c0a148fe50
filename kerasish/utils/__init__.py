"""`kerasish.utils`: helpers for users: seeding, labels and arrays, data sources and files,
the progress bar, saving images, and pictures of training and models."""

from backend.random import set_random_seed  # noqa: F401

from .dataset_utils import split_dataset  # noqa: F401
from .file_utils import get_file  # noqa: F401
from .image_dataset import image_dataset_from_directory  # noqa: F401
from .image_utils import save_img  # noqa: F401
from .numerical_utils import normalize, to_categorical  # noqa: F401
from .plotting import model_to_dot, plot_history, plot_model  # noqa: F401
from .profiler import Profile, profile  # noqa: F401
from .progbar import Progbar  # noqa: F401
from .py_dataset import PyDataset, Sequence  # noqa: F401
from .sequence_utils import pad_sequences  # noqa: F401
from .timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
