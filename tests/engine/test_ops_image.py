"""ops.image.resize: nearest and bilinear (up, down, mixed; 3-D and 4-D) against a plain
numpy reference of jax.image.resize's half-pixel sampling, gradients through the composite,
crop/pad to aspect ratio, errors."""

import math

import numpy as np
import pytest

from backend import ops
from backend.testing import check_op

rng = np.random.default_rng(23)


def _nearest_ref(x, size):
    """out[i, j] = x[floor((i + 0.5) * H / oh), floor((j + 0.5) * W / ow)]."""
    h, w = x.shape[-3:-1]
    rows = [min(math.floor((i + 0.5) * h / size[0]), h - 1) for i in range(size[0])]
    cols = [min(math.floor((j + 0.5) * w / size[1]), w - 1) for j in range(size[1])]
    return x[..., rows, :, :][..., :, cols, :]


def _linear_1d(n_in, n_out):
    """(out, in) weights of bilinear resampling with half-pixel centers, edge-clamped:
    sample at (i + 0.5) * in / out - 0.5 between its two neighbours."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        s = (i + 0.5) * n_in / n_out - 0.5
        s = min(max(s, 0.0), n_in - 1)
        lo = int(math.floor(s))
        hi = min(lo + 1, n_in - 1)
        frac = s - lo
        m[i, lo] += 1 - frac
        m[i, hi] += frac
    return m


def _bilinear_ref(x, size):
    h, w = x.shape[-3:-1]
    mh, mw = _linear_1d(h, size[0]), _linear_1d(w, size[1])
    return np.einsum("ih,...hwc,jw->...ijc", mh, x, mw).astype(x.dtype)


SIZES = [((3, 4), (6, 8)), ((6, 5), (3, 2)), ((4, 4), (7, 3)), ((5, 3), (5, 3)), ((2, 3), (1, 1))]


@pytest.mark.parametrize("in_hw,size", SIZES)
@pytest.mark.parametrize(
    "method,reference", [("nearest", _nearest_ref), ("bilinear", _bilinear_ref)]
)
def test_resize(in_hw, size, method, reference):
    x = rng.standard_normal((2, *in_hw, 2))
    check_op(
        lambda t: ops.image.resize(t, size, interpolation=method),
        [x],
        lambda a: reference(a, size),
    )


def test_resize_3d_input():
    x = rng.standard_normal((3, 2, 2))
    check_op(lambda t: ops.image.resize(t, (5, 4)), [x], lambda a: _bilinear_ref(a, (5, 4)))


def test_known_values():
    x = np.array([0.0, 1.0], np.float32).reshape(1, 2, 1)
    out = ops.image.resize(x, (1, 4)).numpy().ravel()
    np.testing.assert_allclose(out, [0.0, 0.25, 0.75, 1.0])
    out = ops.image.resize(x, (1, 4), interpolation="nearest").numpy().ravel()
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0, 1.0])
    # Downscale by 2 without antialias: plain sampling between the two middle cells.
    x = np.arange(4.0, dtype=np.float32).reshape(1, 4, 1)
    np.testing.assert_allclose(ops.image.resize(x, (1, 2)).numpy().ravel(), [0.5, 2.5])
    # With antialias the triangle widens to the scale: a wider average, renormalized.
    anti = ops.image.resize(x, (1, 2), antialias=True).numpy().ravel()
    np.testing.assert_allclose(anti, [1.25 / 1.75, 4.0 / 1.75], rtol=1e-6)  # weights .75 .75 .25


def test_dtypes():
    x = np.arange(8, dtype=np.int32).reshape(2, 2, 2, 1)
    assert ops.image.resize(x, (4, 4)).dtype == "float32"
    assert ops.image.resize(x, (4, 4), interpolation="nearest").dtype == "int32"
    assert ops.image.resize(x.astype(np.float32), (3, 3)).dtype == "float32"


def test_crop_to_aspect_ratio():
    x = rng.standard_normal((1, 4, 8, 1)).astype(np.float32)
    out = ops.image.resize(x, (2, 2), crop_to_aspect_ratio=True)
    # The centered 4x4 box (columns 2..5), then resized.
    np.testing.assert_allclose(out.numpy(), _bilinear_ref(x[:, :, 2:6], (2, 2)), atol=1e-6)


def test_pad_to_aspect_ratio():
    x = rng.standard_normal((1, 2, 4, 1)).astype(np.float32)
    out = ops.image.resize(x, (4, 4), pad_to_aspect_ratio=True, fill_value=0.5)
    padded = np.full((1, 4, 4, 1), 0.5, np.float32)
    padded[:, 1:3] = x
    np.testing.assert_allclose(out.numpy(), padded, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"size": (2,)}, "size"),
        ({"size": (0, 2)}, "size"),
        ({"interpolation": "area"}, "interpolation"),
        ({"data_format": "channels_first"}, "channels_first"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"size": (2, 2), **kwargs}
    with pytest.raises(ValueError, match=match):
        ops.image.resize(np.ones((1, 3, 3, 1), np.float32), **args)
    with pytest.raises(ValueError, match="3-D"):
        ops.image.resize(np.ones((3, 3), np.float32), (2, 2))
