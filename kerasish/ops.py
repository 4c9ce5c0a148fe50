"""`kerasish.ops`: the engine's ops under the names and signatures of `keras.ops`.

Example:
    >>> import kerasish as keras
    >>> keras.ops.softmax(keras.ops.convert_to_tensor([0.0, 0.0])).numpy().tolist()
    [0.5, 0.5]
"""

from backend.ops import *  # noqa: F403
from backend.ops import __all__ as _engine_all
from backend.ops import shape  # noqa: F401  (the function)

__all__ = list(_engine_all)
