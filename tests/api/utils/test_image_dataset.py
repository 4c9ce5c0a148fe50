"""image_dataset_from_directory: class folders of image files as training batches."""

import sys

import numpy as np
import pytest

import kerasish as keras
from kerasish.utils import image_dataset_from_directory

PIL = pytest.importorskip("PIL.Image", reason="Pillow is an optional dependency")

CLASSES = {"cats": 4, "dogs": 3, "owls": 3}


@pytest.fixture
def folder(tmp_path):
    """Class folders of small images whose red value encodes (class, number): 20*c + n."""
    for c, (name, count) in enumerate(CLASSES.items()):
        (tmp_path / name).mkdir()
        for n in range(count):
            pixels = np.zeros((6, 8, 3), np.uint8)
            pixels[..., 0] = 20 * c + n
            pixels[..., 1] = 200
            suffix = "png" if n % 2 else "bmp"  # lossless, so the values survive
            PIL.fromarray(pixels).save(tmp_path / name / f"{n}.{suffix}")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    return tmp_path


def encoded(images):
    """(class, number) of each image, from its red value."""
    red = np.rint(images[:, 0, 0, 0]).astype(int)
    return [divmod(int(v), 20) for v in red]


def test_reads_class_folders_into_labelled_batches(folder, capsys):
    data = image_dataset_from_directory(folder, image_size=(6, 8), batch_size=4, seed=1)
    assert "Found 10 files belonging to 3 classes." in capsys.readouterr().out
    assert data.class_names == ["cats", "dogs", "owls"] and len(data) == 3
    seen = []
    for i in range(len(data)):
        images, labels = data[i]
        assert images.dtype == np.float32 and images.shape[1:] == (6, 8, 3)
        assert labels.dtype == np.int32
        for (c, n), label in zip(encoded(images), labels, strict=True):
            assert c == label  # each image carries its folder's label
            seen.append((c, n))
    assert sorted(seen) == sorted((c, n) for c, k in enumerate(CLASSES.values())
                                  for n in range(k))  # fmt: skip
    assert np.allclose(data[0][0][..., 1], 200, atol=2)


def test_validation_split_parts_are_disjoint_and_complete(folder, capsys):
    train, val = image_dataset_from_directory(
        folder, image_size=(3, 4), batch_size=None, seed=7, validation_split=0.3, subset="both"
    )
    out = capsys.readouterr().out
    assert "Using 7 files for training." in out and "Using 3 files for validation." in out
    again = image_dataset_from_directory(folder, image_size=(3, 4), seed=7,
                                         validation_split=0.3, subset="validation")  # fmt: skip
    assert again.file_paths == val.file_paths  # the same seed gives the same split
    assert set(train.file_paths).isdisjoint(val.file_paths)
    assert len(set(train.file_paths) | set(val.file_paths)) == 10
    image, label = train[0]
    assert image.shape == (3, 4, 3) and label.shape == ()


def test_label_modes_and_color_modes(folder):
    common = {"image_size": (6, 8), "shuffle": False, "batch_size": 10}
    _, onehot = image_dataset_from_directory(folder, label_mode="categorical", **common)[0]
    assert onehot.shape == (10, 3) and onehot.sum(axis=1).tolist() == [1.0] * 10
    images = image_dataset_from_directory(folder, labels=None, color_mode="grayscale", **common)
    assert images[0].shape == (10, 6, 8, 1)
    custom = image_dataset_from_directory(folder / "cats", labels=[1, 0, 1, 0], **common)
    assert custom[0][1].tolist() == [1, 0, 1, 0] and custom.class_names == ["0", "1"]


def test_an_epoch_reshuffles_and_fit_trains_on_it(folder):
    data = image_dataset_from_directory(folder, image_size=(6, 8), batch_size=5, seed=3)
    first = list(data.file_paths[i] for i in data._order)
    data.on_epoch_end()
    assert (
        sorted(data._order) == list(range(10))
        and [data.file_paths[i] for i in data._order] != first
    )
    model = keras.Sequential([
        keras.Input((6, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data, epochs=2, verbose=0)
    assert history.params["steps"] == 2 and len(history.history["loss"]) == 2


def test_bad_arguments_and_missing_pillow_are_named(folder, monkeypatch):
    with pytest.raises(ValueError, match="Received: subset='test'"):
        image_dataset_from_directory(folder, validation_split=0.2, subset="test")
    with pytest.raises(ValueError, match="go together"):
        image_dataset_from_directory(folder, validation_split=0.2)
    with pytest.raises(ValueError, match=r"not: \['bats'\]"):
        image_dataset_from_directory(folder, class_names=["cats", "bats"])
    with pytest.raises(ValueError, match="needs exactly 2 classes"):
        image_dataset_from_directory(folder, label_mode="binary")
    with pytest.raises(ValueError, match="one label per image file.*Received: 2 labels"):
        image_dataset_from_directory(folder, labels=[0, 1])
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        image_dataset_from_directory(folder)
