import doctest
import gzip

import numpy as np
import pytest

from kerasish.datasets import digits


@pytest.fixture
def real_rows():
    with gzip.open(digits._DATA_PATH, "rt", encoding="ascii") as file:
        return file.read().splitlines()


@pytest.fixture
def use_data_file(monkeypatch, tmp_path):
    """Points load_data at a temporary file, with an empty cache."""

    def use(content: bytes, compress: bool = True):
        path = tmp_path / "digits.csv.gz"
        path.write_bytes(gzip.compress(content) if compress else content)
        monkeypatch.setattr(digits, "_DATA_PATH", path)
        monkeypatch.setattr(digits, "_cache", {})
        return path

    return use


def test_shapes_and_dtypes():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1500, 8, 8)
    assert y_train.shape == (1500,)
    assert x_test.shape == (297, 8, 8)
    assert y_test.shape == (297,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8


def test_value_ranges_and_classes():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    for x in (x_train, x_test):
        assert x.min() == 0 and x.max() == 16
    for y in (y_train, y_test):
        assert np.array_equal(np.unique(y), np.arange(10))
    assert np.bincount(y_train, minlength=10).sum() == 1500


def test_split_follows_file_order(real_rows):
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    first = [int(field) for field in real_rows[0].split(",")]
    last = [int(field) for field in real_rows[-1].split(",")]
    assert x_train[0].ravel().tolist() == first[:64] and y_train[0] == first[64]
    assert x_test[-1].ravel().tolist() == last[:64] and y_test[-1] == last[64]


def test_returns_fresh_writable_copies():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    expected = x_train[0].copy(), y_train[0], x_test[0].copy(), y_test[0]
    x_train[0] = 99
    y_train[0] = 99
    x_test[0] = 99
    y_test[0] = 99
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert np.array_equal(x_train[0], expected[0]) and y_train[0] == expected[1]
    assert np.array_equal(x_test[0], expected[2]) and y_test[0] == expected[3]


def test_missing_file_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(digits, "_DATA_PATH", tmp_path / "absent.csv.gz")
    monkeypatch.setattr(digits, "_cache", {})
    with pytest.raises(OSError, match="missing"):
        digits.load_data()


def test_not_gzip_raises(use_data_file):
    use_data_file(b"this is not gzip data", compress=False)
    with pytest.raises(OSError, match="corrupt"):
        digits.load_data()


def test_truncated_gzip_raises(use_data_file, real_rows):
    path = use_data_file("\n".join(real_rows).encode())
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(OSError, match="corrupt"):
        digits.load_data()


def test_wrong_row_count_raises(use_data_file, real_rows):
    use_data_file("\n".join(real_rows[:100]).encode())
    with pytest.raises(OSError, match="expected 1797 rows"):
        digits.load_data()


def _replace_field(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda row: row.rsplit(",", 1)[0], "expected 65 fields"),
        (lambda row: _replace_field(row, 3, "x"), "expected integer fields"),
        (lambda row: _replace_field(row, 3, "1.5"), "expected integer fields"),
        (lambda row: _replace_field(row, 3, "17"), r"expected pixels in 0\.\.16"),
        (lambda row: _replace_field(row, 3, "-1"), r"expected pixels in 0\.\.16"),
        (lambda row: _replace_field(row, 64, "10"), r"expected a label in 0\.\.9"),
    ],
)
def test_bad_row_raises_naming_the_row(use_data_file, real_rows, corrupt, message):
    rows = list(real_rows)
    rows[41] = corrupt(rows[41])
    use_data_file(("\n".join(rows) + "\n").encode())
    with pytest.raises(OSError, match=f"row 42: {message}"):
        digits.load_data()


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(digits.load_data, "load_data", globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
