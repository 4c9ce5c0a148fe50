"""`kerasish.config`: global settings (floatx, epsilon, image data format)."""

from backend.config import (  # noqa: F401
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
)
