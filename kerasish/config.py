"""`kerasish.config`: global settings (floatx, epsilon, image data format, threads)."""

from backend.config import (  # noqa: F401
    epsilon,
    floatx,
    get_num_threads,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_num_threads,
)
