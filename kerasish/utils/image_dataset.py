"""`image_dataset_from_directory`: batches of images read from class folders, for `fit`."""

from __future__ import annotations

import math
import os

import numpy as np

from .py_dataset import PyDataset

__all__ = ["image_dataset_from_directory"]

_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}
_LABEL_MODES = ("int", "categorical", "binary", None)


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "image_dataset_from_directory reads images with the Pillow package, which is not "
            "installed. Install it with `pip install pillow`."
        ) from error
    return Image


def _image_files(folder: str, follow_links: bool) -> list[str]:
    """Image files under `folder` (recursively), sorted as Keras lists them."""
    found = []
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda w: w[0]):
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(_FORMATS)]
    return found


def _index(directory, labels, class_names, follow_links):
    """(file paths, labels or None, class names or None), in Keras' order."""
    if labels == "inferred":
        folders = sorted(
            d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d))
        )
        if class_names is not None:
            missing = set(class_names) - set(folders)
            if missing:
                raise ValueError(
                    "image_dataset_from_directory: `class_names` must name sub-folders of "
                    f"{directory}; these are not: {sorted(missing)}. "
                    f"Received: class_names={class_names}"
                )
            folders = list(class_names)
        paths, found = [], []
        for index, folder in enumerate(folders):
            files = _image_files(os.path.join(directory, folder), follow_links)
            paths += files
            found += [index] * len(files)
        return paths, np.asarray(found, np.int32), list(folders)
    if class_names is not None:
        raise ValueError(
            "image_dataset_from_directory: `class_names` goes with labels='inferred' only. "
            f"Received: labels={labels!r}, class_names={class_names}"
        )
    paths = _image_files(directory, follow_links)
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(
            f"image_dataset_from_directory: `labels` must have one label per image file, in "
            f"the sorted order of the paths; {directory} has {len(paths)} images. "
            f"Received: {len(labels)} labels"
        )
    labels = np.asarray(labels)
    return paths, labels, [str(v) for v in sorted(set(labels.tolist()))]


class ImageDirectoryDataset(PyDataset):
    """The batches `image_dataset_from_directory` returns: a PyDataset over image files.

    Each batch is `(images, labels)` (or `images` when there are no labels): images are
    float32 `(batch, height, width, channels)` with values 0..255, resized to `image_size`
    when read. `class_names` and `file_paths` say what it holds; when shuffling, each epoch
    visits the files in a new order drawn from `seed`.
    """

    def __init__(self, file_paths, labels, class_names, label_mode, color_mode, batch_size,
                 image_size, shuffle, seed, interpolation, crop_to_aspect_ratio,
                 pad_to_aspect_ratio):  # fmt: skip
        super().__init__()
        self.file_paths = list(file_paths)
        self.labels = labels
        self.class_names = class_names
        self.label_mode = label_mode
        self.color_mode = color_mode
        self.batch_size = batch_size
        self.image_size = tuple(image_size)
        self.shuffle = shuffle
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(self.file_paths))
        if shuffle:
            self._rng.shuffle(self._order)

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self.batch_size)

    def _read(self, path: str) -> np.ndarray:
        from backend.ops.image import resize

        image_module = _pillow()
        mode, _ = _CHANNELS[self.color_mode]
        try:
            with image_module.open(path) as image:
                pixels = np.asarray(image.convert(mode), dtype=np.float32)
        except OSError as error:
            raise ValueError(
                f"image_dataset_from_directory: cannot read {path}: {error}"
            ) from error
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.shape[:2] == self.image_size:
            return pixels
        resized = resize(pixels, self.image_size, interpolation=self.interpolation,
                         crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                         pad_to_aspect_ratio=self.pad_to_aspect_ratio)  # fmt: skip
        return np.asarray(resized, dtype=np.float32)

    def _labels(self, index: np.ndarray):
        labels = self.labels[index]
        if self.label_mode == "int":
            return labels.astype(np.int32)
        if self.label_mode == "binary":
            return labels.astype(np.float32).reshape(-1, 1)
        return np.eye(len(self.class_names), dtype=np.float32)[labels]  # categorical

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} is out of range: the dataset has {len(self)}")
        size = self.batch_size or 1
        chosen = self._order[index * size : (index + 1) * size]
        images = np.stack([self._read(self.file_paths[i]) for i in chosen])
        if self.batch_size is None:
            images = images[0]
        if self.labels is None or self.label_mode is None:
            return images
        labels = self._labels(chosen)
        return (images, labels if self.batch_size else labels[0])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self._order)


def _check_arguments(labels, label_mode, color_mode, batch_size, image_size, validation_split,
                     subset, interpolation):  # fmt: skip
    def bad(name, value, wanted):
        return ValueError(
            f"image_dataset_from_directory: `{name}` must be {wanted}. Received: {name}={value!r}"
        )

    if not (labels in ("inferred", None) or isinstance(labels, (list, tuple, np.ndarray))):
        raise bad("labels", labels, "'inferred', None, or a list of labels")
    if label_mode not in _LABEL_MODES:
        raise bad("label_mode", label_mode, f"one of {_LABEL_MODES}")
    if color_mode not in _CHANNELS:
        raise bad("color_mode", color_mode, f"one of {tuple(_CHANNELS)}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, int) or batch_size < 1):  # fmt: skip
        raise bad("batch_size", batch_size, "an int >= 1 or None")
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(v, int) and v > 0 for v in image_size)):  # fmt: skip
        raise bad("image_size", image_size, "a pair of positive ints (height, width)")
    if validation_split is not None and not 0 < validation_split < 1:
        raise bad("validation_split", validation_split, "a fraction in (0, 1)")
    if subset not in (None, "training", "validation", "both"):
        raise bad("subset", subset, "'training', 'validation', 'both' or None")
    if (subset is None) != (validation_split is None):
        raise ValueError(
            "image_dataset_from_directory: `validation_split` and `subset` go together. "
            f"Received: validation_split={validation_split}, subset={subset!r}"
        )
    if interpolation not in ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5"):
        raise bad("interpolation", interpolation, "an interpolation of ops.image.resize")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256),
                                 shuffle=True, seed=None, validation_split=None, subset=None,
                                 interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                                 data_format=None, verbose=True):  # fmt: skip
    """Batches of images from a folder with one sub-folder per class, as Keras' function.

    With `labels="inferred"`, each sub-folder of `directory` (sorted by name, or in the order
    of `class_names`) is a class, and every .bmp, .gif, .jpeg, .jpg or .png file below it an
    example. `label_mode` gives labels as ints (`"int"`), one-hot rows (`"categorical"`),
    floats of shape (1,) (`"binary"`) or none (None). Images are read (with Pillow) when a
    batch is asked for, converted to `color_mode` and resized to `image_size` (see
    `ops.image.resize`); pixel values stay 0..255, so put a `Rescaling(1 / 255)` in the model.
    `validation_split` with `subset="training"`, `"validation"` or `"both"` splits the files
    after shuffling them with `seed` (use the same seed for both parts, as in Keras).

    Keras returns a `tf.data.Dataset`; this returns a `kerasish.utils.PyDataset` (with
    `class_names` and `file_paths`) that `fit`, `evaluate` and `predict` take, or a pair of
    them for `subset="both"`. Pillow is an optional dependency: `pip install pillow`.

    Example:
        >>> train = image_dataset_from_directory(  # doctest: +SKIP
        ...     "flowers", validation_split=0.2, subset="training", seed=1337,
        ...     image_size=(180, 180), batch_size=32)
        >>> train.class_names  # doctest: +SKIP
        ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']
    """
    _check_arguments(labels, label_mode, color_mode, batch_size, image_size, validation_split,
                     subset, interpolation)  # fmt: skip
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "image_dataset_from_directory: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )
    if not os.path.isdir(directory):
        raise ValueError(
            f"image_dataset_from_directory: {directory!r} is not a folder. "
            f"Received: directory={directory!r}"
        )
    _pillow()
    if labels is None:
        label_mode = None
    paths, found_labels, names = _index(directory, labels, class_names, follow_links)
    if label_mode == "binary" and names is not None and len(names) != 2:
        raise ValueError(
            "image_dataset_from_directory: label_mode='binary' needs exactly 2 classes. "
            f"Received: {len(names)} classes {names}"
        )
    if verbose:
        classes = "" if names is None else f" belonging to {len(names)} classes"
        print(f"Found {len(paths)} files{classes}.", flush=True)
    if not paths:
        raise ValueError(
            f"image_dataset_from_directory: no images found in {directory} (allowed formats: "
            f"{', '.join(_FORMATS)})."
        )
    if seed is None:
        seed = int(np.random.randint(1_000_000))
    if shuffle:  # as Keras: the file list shuffled with the seed, before any split
        order = np.random.RandomState(seed).permutation(len(paths))
        paths = [paths[i] for i in order]
        if found_labels is not None:
            found_labels = found_labels[order]

    def make(part_paths, part_labels):
        return ImageDirectoryDataset(
            part_paths, part_labels, names, label_mode, color_mode, batch_size, image_size,
            shuffle, seed, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
        )  # fmt: skip

    if validation_split is None:
        return make(paths, found_labels)
    num_val = int(validation_split * len(paths))
    cut = len(paths) - num_val
    parts = {
        "training": (paths[:cut], None if found_labels is None else found_labels[:cut]),
        "validation": (paths[cut:], None if found_labels is None else found_labels[cut:]),
    }
    for name in ("training", "validation") if subset == "both" else (subset,):
        if verbose:
            print(f"Using {len(parts[name][0])} files for {name}.", flush=True)
        if not parts[name][0]:
            raise ValueError(
                f"image_dataset_from_directory: validation_split={validation_split} leaves no "
                f"{name} files out of {len(paths)}."
            )
    if subset == "both":
        return make(*parts["training"]), make(*parts["validation"])
    return make(*parts[subset])
