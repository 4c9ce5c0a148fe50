"""Image preprocessing and augmentation layers, and ops.image.affine_transform."""

import json
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from backend.testing import check_op
from kerasish.testing import run_layer_test

GOLDENS = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = np.load(GOLDENS / "image_layers.npz")
CASES = json.loads((GOLDENS / "image_layers.json").read_text())["cases"]
IMAGES = RECORDED["images"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_keras(name):
    case = CASES[name]
    if case["call"] == "ops.image.affine_transform":
        out = keras.ops.image.affine_transform(IMAGES, RECORDED["transforms"], **case["kwargs"])
    else:
        layer = getattr(keras.layers, case["call"].split(".")[1])(**case["kwargs"])
        out = layer(IMAGES, training=True)
    np.testing.assert_allclose(out.numpy(), RECORDED[name], atol=1e-6, rtol=1e-6)


def affine_reference(images, transform, interpolation, fill_mode, fill_value):
    """Pixel by pixel, the neighbors of each point fixed one by one (as JAX's
    map_coordinates does); slow and plain."""

    def fix(i, n):
        if fill_mode == "wrap":
            return i % n
        if fill_mode in ("constant", "nearest"):
            return min(max(i, 0), n - 1)
        period = 2 * n if fill_mode == "reflect" else 2 * n - 2
        i %= period
        if fill_mode == "reflect":
            return i if i < n else period - 1 - i
        return i if i < n else period - i

    batch, height, width, channels = images.shape
    out = np.zeros_like(images, dtype=np.float64)
    for b in range(batch):
        a0, a1, a2, b0, b1, b2 = transform[b][:6]
        for y in range(height):
            for x in range(width):
                xi, yi = a0 * x + a1 * y + a2, b0 * x + b1 * y + b2
                if interpolation == "nearest":
                    taps = [(int(np.floor(yi + 0.5)), int(np.floor(xi + 0.5)), 1.0)]
                else:
                    r, c = int(np.floor(yi)), int(np.floor(xi))
                    fy, fx = yi - r, xi - c
                    taps = [(r, c, (1 - fy) * (1 - fx)), (r, c + 1, (1 - fy) * fx),
                            (r + 1, c, fy * (1 - fx)), (r + 1, c + 1, fy * fx)]  # fmt: skip
                for r, c, w in taps:
                    inside = 0 <= r < height and 0 <= c < width
                    if fill_mode == "constant" and not inside:
                        out[b, y, x] += w * fill_value
                    else:
                        out[b, y, x] += w * images[b, fix(r, height), fix(c, width)]
    return out


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
def test_affine_transform_matches_a_plain_reference_and_its_gradient(fill_mode):
    rng = np.random.default_rng(1)
    images = rng.standard_normal((2, 4, 5, 2))
    # Points never land on pixel centers or half-way, so rounding has no ties.
    transform = np.array([[0.93, -0.31, 1.17, 0.27, 1.09, -0.73, 0, 0],
                          [1.21, 0.23, -1.45, -0.41, 0.83, 2.07, 0, 0]])  # fmt: skip
    for interpolation in ("bilinear", "nearest"):
        check_op(
            lambda x, t, i=interpolation: keras.ops.image.affine_transform(
                x, t, interpolation=i, fill_mode=fill_mode, fill_value=0.5
            ),
            [images, transform],
            lambda x, t, i=interpolation: affine_reference(x, t, i, fill_mode, 0.5),
            grad_inputs=(0,),
        )


def test_affine_transform_arguments_are_checked():
    with pytest.raises(ValueError, match="Received: fill_mode='edge'"):
        keras.ops.image.affine_transform(IMAGES, RECORDED["transforms"], fill_mode="edge")
    with pytest.raises(ValueError, match=r"Received: transform.shape=\(2, 6\)"):
        keras.ops.image.affine_transform(IMAGES, np.zeros((2, 6)))


LAYERS = [
    (keras.layers.RandomFlip, {"mode": "horizontal", "seed": 1}),
    (keras.layers.RandomRotation, {"factor": 0.2, "fill_mode": "constant", "seed": 2}),
    (keras.layers.RandomZoom, {"height_factor": (-0.2, 0.3), "width_factor": 0.1, "seed": 3}),
    (keras.layers.RandomTranslation, {"height_factor": 0.1, "width_factor": (-0.2, 0.0)}),
    (keras.layers.RandomContrast, {"factor": (0.2, 0.4), "value_range": (-3, 3), "seed": 4}),
]


@pytest.mark.parametrize("layer_cls, kwargs", LAYERS, ids=lambda v: getattr(v, "__name__", ""))
def test_augmentation_layers_are_identity_in_inference_and_round_trip(layer_cls, kwargs):
    for training in (False, True):
        run_layer_test(layer_cls, kwargs, input_shape=(2, 6, 5, 3),
                       expected_output_shape=(2, 6, 5, 3), call_kwargs={"training": training},
                       run_training_check=False)  # fmt: skip
    images = np.random.default_rng(0).random((2, 6, 5, 3)).astype("float32")
    layer = layer_cls(**kwargs)
    np.testing.assert_array_equal(layer(images).numpy(), images)
    assert layer(images, training=True).shape == (2, 6, 5, 3)
    assert layer(images[0], training=True).shape == (6, 5, 3)  # one image


@pytest.mark.parametrize("layer_cls, kwargs", LAYERS[:3] + LAYERS[4:],
                         ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_a_seed_repeats_the_draws_and_each_call_draws_anew(layer_cls, kwargs):
    images = np.random.default_rng(0).random((8, 6, 5, 3)).astype("float32")
    first, second = layer_cls(**kwargs), layer_cls(**kwargs)
    a, b = first(images, training=True).numpy(), second(images, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first(images, training=True).numpy(), a)


def test_random_flip_flips_whole_images_or_leaves_them():
    images = np.random.default_rng(0).random((16, 3, 4, 1)).astype("float32")
    out = keras.layers.RandomFlip("horizontal_and_vertical", seed=0)(images, training=True)
    flipped = [np.array_equal(o, i[::-1, ::-1]) for o, i in zip(out.numpy(), images, strict=True)]
    kept = [np.array_equal(o, i) for o, i in zip(out.numpy(), images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 0 < sum(flipped) < 16
    out = keras.layers.RandomFlip("vertical", seed=5)(images, training=True).numpy()
    assert all(np.array_equal(o, i) or np.array_equal(o, i[::-1])
               for o, i in zip(out, images, strict=True))  # fmt: skip


def test_random_contrast_scales_about_the_mean_within_the_range():
    rng = np.random.default_rng(0)
    images = rng.uniform(50, 200, (32, 4, 4, 3)).astype("float32")
    out = keras.layers.RandomContrast((0.3, 0.2), seed=0)(images, training=True).numpy()
    mean = images.mean(axis=(1, 2), keepdims=True)
    factors = (out - mean) / (images - mean)
    per_image = factors.reshape(32, -1)
    np.testing.assert_allclose(per_image, np.repeat(per_image[:, :1], 48, axis=1), rtol=1e-3)
    assert per_image.min() >= 0.7 - 1e-4 and per_image.max() <= 1.2 + 1e-4
    assert per_image.min() < 0.85 and per_image.max() > 1.05  # both sides of 1 are drawn
    layer = keras.layers.RandomContrast(1.0, value_range=(0, 100), seed=1)
    clipped = layer(images * 2, training=True)
    assert clipped.numpy().min() >= 0 and clipped.numpy().max() <= 100


def test_random_crop_takes_a_window_at_a_random_place_in_training_and_the_center_otherwise():
    images = np.arange(2 * 6 * 7 * 1, dtype="float32").reshape(2, 6, 7, 1)
    layer = keras.layers.RandomCrop(3, 4, seed=0)
    starts = set()
    for _ in range(12):
        out = layer(images, training=True).numpy()
        top, left = divmod(int(out[0, 0, 0, 0]), 7)
        np.testing.assert_array_equal(out, images[:, top : top + 3, left : left + 4])
        starts.add((top, left))
    assert len(starts) > 3 and all(t <= 3 and l_ <= 3 for t, l_ in starts)
    np.testing.assert_array_equal(layer(images).numpy(), images[:, 1:4, 1:5])
    with keras.GradientTape() as tape:
        x = keras.Variable(images)
        loss = keras.ops.sum(layer(x, training=True))
    grad = tape.gradient(loss, x).numpy()
    assert grad.sum() == 2 * 3 * 4 and set(np.unique(grad)) == {0.0, 1.0}


@pytest.mark.parametrize(
    "layer_cls, kwargs, out_shape",
    [(keras.layers.Resizing, {"height": 3, "width": 8, "interpolation": "nearest"}, (2, 3, 8, 3)),
     (keras.layers.CenterCrop, {"height": 4, "width": 2}, (2, 4, 2, 3)),
     (keras.layers.RandomCrop, {"height": 4, "width": 2, "seed": 0}, (2, 4, 2, 3))],
    ids=["Resizing", "CenterCrop", "RandomCrop"],
)  # fmt: skip
def test_size_layers_round_trip(layer_cls, kwargs, out_shape):
    for training in (False, True):
        run_layer_test(layer_cls, kwargs, input_shape=(2, 6, 5, 3),
                       expected_output_shape=out_shape, call_kwargs={"training": training}
                       if layer_cls is keras.layers.RandomCrop else None,
                       run_training_check=False)  # fmt: skip


def test_augmentation_draws_anew_at_each_compiled_training_step_and_not_in_predict():
    # Fixed weights (learning rate 0) and fixed data: the loss changes only with the flips.
    row = np.array([[[[1.0], [2.0], [3.0], [4.0]]]], "float32")
    model = keras.Sequential([
        keras.Input((1, 4, 1)),
        keras.layers.RandomFlip("horizontal", seed=0),
        keras.layers.Flatten(),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="ones"),
    ])  # fmt: skip
    model.set_weights([np.array([[1.0], [0.0], [0.0], [0.0]], "float32")])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(round(logs["loss"], 4))
    )
    model.fit(np.repeat(row, 20, axis=0), np.zeros((20, 1)), batch_size=1, epochs=1,
              shuffle=False, verbose=0, callbacks=[record])  # fmt: skip
    # Each step sees the row as is (output 1, loss 1) or flipped (output 4, loss 16): running
    # means of those, so both kinds of step must have happened.
    assert losses[0] in (1.0, 16.0) and len(set(losses)) > 2
    assert model.predict(row, verbose=0).item() == 1.0  # inference: never flipped


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"RandomRotation: `factor`.*Received: factor=2"):
        keras.layers.RandomRotation(2)
    with pytest.raises(ValueError, match=r"RandomZoom: `height_factor`.*Received"):
        keras.layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="Received: fill_mode='mirror'"):
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="Received: mode='diagonal'"):
        keras.layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="Received: factor=1.5"):
        keras.layers.RandomContrast(1.5)
    with pytest.raises(ValueError, match="Received: height=0"):
        keras.layers.CenterCrop(0, 3)
    with pytest.raises(ValueError, match="Received: data_format='channels_first'"):
        keras.layers.Resizing(3, 3, data_format="channels_first")
    with pytest.raises(ValueError, match=r"RandomFlip: expected images.*Received: inputs.shape"):
        keras.layers.RandomFlip()(np.zeros((2, 3)))
