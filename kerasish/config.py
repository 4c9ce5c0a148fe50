"""`kerasish.config`: global settings (floatx, epsilon, image data format, threads and their
idle-priority spin, how many compiled versions each step keeps)."""

from backend.config import (  # noqa: F401
    disable_nan_checks,
    enable_nan_checks,
    epsilon,
    floatx,
    get_num_threads,
    image_data_format,
    nan_checks_enabled,
    plan_cache_size,
    set_epsilon,
    set_floatx,
    set_num_threads,
    set_plan_cache_size,
    set_spin_seconds,
    spin_seconds,
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
