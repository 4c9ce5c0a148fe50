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


def backend() -> str:
    """The name of the engine that runs the models: always `"kerasish"`.

    Keras returns `"jax"`, `"tensorflow"`, `"torch"` or `"numpy"` here; code that branches on
    it can tell kerasish apart.

    Example:
        >>> import kerasish as keras
        >>> keras.config.backend()
        'kerasish'
    """
    return "kerasish"
