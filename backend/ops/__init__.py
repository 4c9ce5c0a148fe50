"""The engine's ops: primitives (with shape inference, forward and vjp) and composites.

Each module lists its public functions in `__all__`; this package re-exports them all, and
`kerasish.ops` re-exports this package under the names of `keras.ops`. `ops.shape` is the
function `shape(x)`, which shadows the submodule of the same name in this namespace.
"""

import sys as _sys

from .. import tensor as _tensor
from . import conv as _conv
from . import creation as _creation
from . import elementwise as _elementwise
from . import image  # noqa: F401  (ops.image.resize)
from . import indexing as _indexing
from . import linalg as _linalg
from . import nn as _nn
from . import norm as _norm
from . import pool as _pool
from . import reduce as _reduce
from . import rnn as _rnn
from . import shape as _shape_module
from .base import Op, apply  # noqa: F401
from .conv import *  # noqa: F403
from .creation import *  # noqa: F403
from .creation import shape  # noqa: E402,F401  (the function, not the module)
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .linalg import *  # noqa: F403
from .nn import *  # noqa: F403
from .norm import *  # noqa: F403
from .pool import *  # noqa: F403
from .reduce import *  # noqa: F403
from .rnn import *  # noqa: F403
from .shape import *  # noqa: F403

__all__ = sorted(
    {
        *_conv.__all__,
        *_creation.__all__,
        *_elementwise.__all__,
        *_indexing.__all__,
        *_linalg.__all__,
        *_nn.__all__,
        *_norm.__all__,
        *_pool.__all__,
        "image",
        *_reduce.__all__,
        *_rnn.__all__,
        *_shape_module.__all__,
    }
)

_tensor._bind_ops(_sys.modules[__name__])
