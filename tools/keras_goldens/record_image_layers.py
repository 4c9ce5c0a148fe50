"""Record Keras 3's image resampling: `ops.image.affine_transform` and the image layers
whose output is fixed when their random range is a single value.

Run it in the keras venv (see README.md next to this file):

    KERAS_BACKEND=jax python tools/keras_goldens/record_image_layers.py \
        --out tests/fixtures/keras_goldens

Output: `image_layers.npz` (the input images and each case's output, float32) and
`image_layers.json` (per case: what was called, with which arguments). Deterministic: the
npz has sorted keys and a fixed zip timestamp.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from npz_files import npz_bytes  # noqa: E402  (beside this script)

FILL_MODES = ["constant", "nearest", "wrap", "mirror", "reflect"]
LAYER_FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def layer_cases():
    """(name, layer class name, init kwargs, call kwargs)."""
    cases = []
    for fill in LAYER_FILL_MODES:
        for interp in ("bilinear", "nearest"):
            common = {"fill_mode": fill, "interpolation": interp, "fill_value": 0.25}
            cases += [
                (f"rotation_{fill}_{interp}", "RandomRotation", {"factor": (0.1, 0.1), **common}),
                (
                    f"zoom_{fill}_{interp}",
                    "RandomZoom",
                    {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), **common},
                ),
                (
                    f"translation_{fill}_{interp}",
                    "RandomTranslation",
                    {"height_factor": (0.2, 0.2), "width_factor": (-0.25, -0.25), **common},
                ),
            ]
    cases += [
        ("rotation_quarter_turn", "RandomRotation", {"factor": (-0.25, -0.25)}),
        ("zoom_height_only", "RandomZoom", {"height_factor": (0.4, 0.4)}),
        ("resizing_bilinear", "Resizing", {"height": 3, "width": 4}),
        ("resizing_nearest", "Resizing", {"height": 8, "width": 3, "interpolation": "nearest"}),
        ("resizing_crop", "Resizing", {"height": 4, "width": 4, "crop_to_aspect_ratio": True}),
        (
            "resizing_pad",
            "Resizing",
            {"height": 4, "width": 2, "pad_to_aspect_ratio": True, "fill_value": 0.5},
        ),
        ("center_crop_smaller", "CenterCrop", {"height": 3, "width": 4}),
        ("center_crop_larger", "CenterCrop", {"height": 6, "width": 4}),
        ("random_crop_larger", "RandomCrop", {"height": 6, "width": 4, "seed": 1}),
    ]
    return cases


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    rng = np.random.default_rng(0)
    images = rng.random((2, 5, 6, 2)).astype("float32")
    transforms = np.array(
        [[0.9, -0.3, 1.2, 0.25, 1.1, -0.7, 0, 0], [1.3, 0.2, -1.5, -0.4, 0.8, 2.1, 0, 0]],
        "float32",
    )
    arrays = {"images": images, "transforms": transforms}
    index = {}
    for fill in FILL_MODES:
        for interp in ("bilinear", "nearest"):
            name = f"affine_{fill}_{interp}"
            kwargs = {"interpolation": interp, "fill_mode": fill, "fill_value": 0.5}
            arrays[name] = np.asarray(
                keras.ops.image.affine_transform(images, transforms, **kwargs)
            )
            index[name] = {"call": "ops.image.affine_transform", "kwargs": kwargs}
    for name, cls, kwargs in layer_cases():
        layer = getattr(keras.layers, cls)(**kwargs)
        arrays[name] = np.asarray(layer(images, training=True))
        index[name] = {"call": f"layers.{cls}", "kwargs": kwargs, "training": True}
    with open(os.path.join(out, "image_layers.npz"), "wb") as f:
        f.write(npz_bytes(arrays))
    record = {
        "keras_version": keras.__version__,
        "cases": index,
        "inputs": "images (2, 5, 6, 2) = default_rng(0).random; transforms (2, 8)",
    }
    with open(os.path.join(out, "image_layers.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
