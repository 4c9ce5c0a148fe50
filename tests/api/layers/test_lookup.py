"""StringLookup and IntegerLookup: index layout, OOV buckets, output modes, invert, errors
and config, beyond the Keras goldens of test_text_goldens.py. Expected values are worked
out by hand from Keras' rules (the reasons are in the comments)."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.layers.string_hashing import fingerprint64, siphash24

FRUIT = ["pear", "fig", "pear", "kiwi", "fig", "pear", "plum"]


def test_string_lookup_layout_with_mask_and_oov_indices():
    layer = layers.StringLookup(mask_token="[MASK]", num_oov_indices=2)
    layer.adapt(FRUIT)
    # mask at 0, two OOV indices, then pear (3), fig (2), then plum > kiwi for the ties.
    assert layer.get_vocabulary() == ["[MASK]", "[UNK]", "[UNK]", "pear", "fig", "plum", "kiwi"]
    out = layer(["fig", "[MASK]", "mango", "lime"]).numpy().tolist()
    # An unknown string's OOV index: 1 + Fingerprint64(string) % 2.
    assert out == [4, 0, 1 + fingerprint64(b"mango") % 2, 1 + fingerprint64(b"lime") % 2]


def test_salt_hashes_with_siphash():
    layer = layers.StringLookup(num_oov_indices=5, salt=3, vocabulary=["a"])
    assert layer(["zz"]).numpy().tolist() == [siphash24((3, 3), b"zz") % 5]


def test_integer_lookup_oov_methods():
    floormod = layers.IntegerLookup(num_oov_indices=3, vocabulary=[10, 20])
    # -7 % 3 == 2 (floor modulo), 8 % 3 == 2, 9 % 3 == 0; the vocabulary starts at 3.
    assert floormod([10, -7, 8, 9, 20]).numpy().tolist() == [3, 2, 2, 0, 4]
    farmhash = layers.IntegerLookup(num_oov_indices=3, oov_method="farmhash", vocabulary=[10])
    assert farmhash([-7]).numpy().tolist() == [fingerprint64(b"-7") % 3]


def test_integer_lookup_mask_and_ties():
    layer = layers.IntegerLookup(mask_token=0)
    layer.adapt(np.array([[5, 3, 0], [3, 5, 9]]))
    # 5 and 3 twice (5 first: the higher id), 9 once; the mask 0 is not a token.
    assert layer.get_vocabulary() == [0, -1, 5, 3, 9]
    assert layer(np.array([[0, 9], [4, 5]])).numpy().tolist() == [[0, 4], [1, 2]]
    # Floats holding integers are cast, as Keras casts them.
    assert layer(np.array([5.0, 3.0])).numpy().tolist() == [2, 3]


def test_one_hot_multi_hot_count_layouts():
    vocab = ["a", "b"]
    one_hot = layers.StringLookup(output_mode="one_hot", vocabulary=vocab)
    assert one_hot(["b", "z"]).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]
    assert one_hot([["b"], ["a"]]).shape == (2, 3)  # a trailing axis of 1 is dropped
    multi = layers.StringLookup(output_mode="multi_hot", vocabulary=vocab)
    assert multi(["a", "a"]).numpy().tolist() == [0, 1, 0]  # 1-D: one sample
    count = layers.StringLookup(output_mode="count", vocabulary=vocab, mask_token="")
    # Outside "int" mode the mask token takes no index and counts nowhere.
    assert count([["a", "", "a"], ["", "z", "b"]]).numpy().tolist() == [[0, 2, 0], [1, 0, 1]]
    padded = layers.IntegerLookup(output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True,
                                  vocabulary=[7])  # fmt: skip
    assert padded([[7, 8]]).numpy().tolist() == [[1, 1, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="rank 1 or 2"):
        multi(np.array([[["a"]]]))


def test_tf_idf_documents_depend_on_how_data_is_given():
    # As Keras: in an array every element is a document; a 1-D batch from an iterable is
    # one document. "a" is in 2 of 3 documents: log(1 + 3/3); or in 1 of 1: log(1 + 1/2).
    from_array = layers.StringLookup(output_mode="tf_idf")
    from_array.adapt(["a", "a", "c"])
    from_batches = layers.StringLookup(output_mode="tf_idf")
    from_batches.adapt(iter([np.array(["a", "a", "c"])]))
    assert from_array._idf[1] == pytest.approx(np.log(1 + 3 / 3))
    assert from_batches._idf[1] == pytest.approx(np.log(1 + 1 / 2))


def test_invert():
    layer = layers.StringLookup(vocabulary=["a", "b"], invert=True, mask_token="")
    out = layer(np.array([[0, 1, 2], [3, 4, -1]]))
    assert isinstance(out, np.ndarray)  # strings stay numpy
    assert out.tolist() == [["", "[UNK]", "a"], ["b", "[UNK]", "[UNK]"]]
    ids = layers.IntegerLookup(vocabulary=[1000, 2000], invert=True)
    assert ids([1, 2, 0, 5]).numpy().tolist() == [1000, 2000, -1, -1]
    with pytest.raises(ValueError, match="invert=True.*must be integers"):
        layer(["a"])


def test_num_oov_indices_zero():
    layer = layers.StringLookup(num_oov_indices=0, vocabulary=["a", "b"])
    assert layer(["b", "a"]).numpy().tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*\['x', 'y'\]"):
        layer(["a", "y", "x", "y"])


def test_set_vocabulary_with_special_tokens_and_idf():
    layer = layers.StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["[UNK]", "a", "b"], idf_weights=[0.5, 1.0, 2.0])
    # The special token led the vocabulary: the weights are used as given.
    assert layer([["b", "z", "b"]]).numpy().tolist() == [[0.5, 0.0, 4.0]]
    with pytest.raises(ValueError, match="one weight per vocabulary entry"):
        layer.set_vocabulary(["a", "b"], idf_weights=[1.0])
    with pytest.raises(ValueError, match="1-D"):
        layer.set_vocabulary(["a"], idf_weights=[[1.0]])


def test_vocabulary_from_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("4\n8\n15\n")
    layer = layers.IntegerLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == [-1, 4, 8, 15]
    assert layer.get_config()["vocabulary"] is None  # a path is not kept in the config


def test_adapt_empty_data_keeps_the_vocabulary():
    # As Keras: data without any token leaves the vocabulary as it was.
    layer = layers.StringLookup()
    layer.adapt(["a", "b", "b"])
    layer.adapt(np.array([], dtype=str))
    assert layer.get_vocabulary() == ["[UNK]", "b", "a"]


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (layers.StringLookup, {"max_tokens": 1}, "max_tokens=1"),
        (layers.StringLookup, {"num_oov_indices": -1}, "num_oov_indices=-1"),
        (layers.StringLookup, {"output_mode": "onehot"}, "output_mode='onehot'"),
        (layers.StringLookup, {"invert": True, "output_mode": "count"}, "invert=True"),
        (layers.StringLookup, {"sparse": True}, "sparse=True"),
        (layers.StringLookup, {"salt": "pepper"}, "salt='pepper'"),
        (layers.StringLookup, {"oov_method": "mod"}, "oov_method='mod'"),
        (layers.StringLookup, {"vocabulary": []}, "empty vocabulary"),
        (layers.StringLookup, {"vocabulary": [1, 2]}, "must be strings"),
        (layers.StringLookup, {"max_tokens": 2, "vocabulary": ["a", "b"]}, "max_tokens=2"),
        (layers.IntegerLookup, {"salt": 3}, "oov_method='floormod'"),
        (layers.IntegerLookup, {"vocabulary_dtype": "int32"}, "vocabulary_dtype='int32'"),
        (layers.IntegerLookup, {"mask_token": "0"}, "mask_token='0'"),
        (layers.IntegerLookup, {"vocabulary": [1, 2.5]}, "must be integers"),
        (layers.IntegerLookup, {"invert": True, "vocabulary": [1, -1]}, "oov_token=-1"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_bad_data():
    with pytest.raises(ValueError, match="StringLookup '.*': adapt.* must be strings.*int64"):
        layers.StringLookup().adapt(np.arange(3))
    with pytest.raises(ValueError, match="IntegerLookup '.*': adapt.* must be integers.*<U1"):
        layers.IntegerLookup().adapt(["a"])
    with pytest.raises(ValueError, match="must be integers.*float64"):
        layers.IntegerLookup(vocabulary=[1])(np.array([1.5]))
    with pytest.raises(ValueError, match="computes on integers.*string"):
        layers.IntegerLookup(vocabulary=[1])(keras.Input(shape=(2,), dtype="string"))
    with pytest.raises(RuntimeError, match="vocabulary .* must be set"):
        layers.IntegerLookup(output_mode="count")([1])


def test_config_round_trip_and_symbolic_specs():
    layer = layers.StringLookup(
        max_tokens=9, num_oov_indices=2, mask_token="", oov_token="?", output_mode="count",
        vocabulary=["a", "b"], salt=[1, 2], name="words",
    )  # fmt: skip
    config = layer.get_config()
    clone = layers.StringLookup.from_config(config)
    assert clone.get_config() == config
    data = [["a", "q", ""], ["b", "b", "zz"]]
    np.testing.assert_array_equal(clone(data), layer(data))
    counted = layer(keras.Input(shape=(3,), dtype="string"))
    assert (counted.shape, counted.dtype) == ((None, 4), "int32")
    ids = layers.IntegerLookup(vocabulary=[3, 1], mask_token=0)
    assert layers.IntegerLookup.from_config(ids.get_config()).get_vocabulary() == [0, -1, 3, 1]
    assert ids(keras.Input(shape=(5,), dtype="int64")).shape == (None, 5)
    tf_idf = layers.IntegerLookup(output_mode="tf_idf", vocabulary=[1], idf_weights=[2.0])
    assert tf_idf(keras.Input(shape=(5,), dtype="int64")).dtype == "float32"
