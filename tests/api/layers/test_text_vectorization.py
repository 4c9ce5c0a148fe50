"""TextVectorization: its options, inputs, errors and config, beyond the Keras goldens of
test_text_goldens.py. Expected values are worked out by hand from Keras' rules (the
reasons are in the comments)."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

CORPUS = ["The cat sat.", "The dog sat on the cat!", "A bird"]


def adapted(**kwargs):
    layer = layers.TextVectorization(**kwargs)
    layer.adapt(CORPUS)
    return layer


def test_vocabulary_order_and_padding():
    layer = adapted()
    # the: 3, cat: 2, sat: 2, then the count-1 tokens; ties go to the token sorting highest.
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "sat", "cat", "on", "dog", "bird",
                                      "a"]  # fmt: skip
    out = layer(["the cat ate the fish", "sat"])
    assert out.dtype == "int32"
    # Padded with 0 to the longest sequence of the batch; "ate" and "fish" are [UNK] (1).
    assert out.numpy().tolist() == [[2, 4, 1, 2, 1], [3, 0, 0, 0, 0]]


def test_output_sequence_length_pads_and_truncates_at_the_end():
    layer = adapted(output_sequence_length=3)
    assert layer(["the cat ate the fish", "sat"]).numpy().tolist() == [[2, 4, 1], [3, 0, 0]]
    assert adapted(output_sequence_length=0)(["the cat"]).shape == (1, 0)


def test_max_tokens_counts_the_special_tokens():
    assert adapted(max_tokens=4).get_vocabulary() == ["", "[UNK]", "the", "sat"]
    # Outside "int" mode there is no padding entry: one more learned token fits.
    assert adapted(max_tokens=4, output_mode="count").get_vocabulary() == [
        "[UNK]", "the", "sat", "cat"]  # fmt: skip


def test_inputs_of_every_accepted_form():
    layer = adapted(output_sequence_length=2)
    expected = [[2, 4], [3, 0]]
    for data in (
        ["The cat", "sat"],
        np.array(["The cat", "sat"]),
        np.array([["The cat"], ["sat"]]),
        np.array([b"The cat", b"sat"]),
        np.array(["The cat", "sat"], dtype=object),
    ):
        assert layer(data).numpy().tolist() == expected
    assert layer("the cat sat").numpy().tolist() == [2, 4]  # one string: one sequence
    assert layer(np.array([], dtype=str)).shape == (0, 2)


def test_standardize_and_split_variants():
    text = ["Hello, WORLD! don't", "  spaced\tout\n"]
    lower = layers.TextVectorization(standardize="lower", vocabulary=["hello,", "world!", "don't"])
    assert lower(text).numpy().tolist() == [[2, 3, 4], [1, 1, 0]]
    strip = layers.TextVectorization(standardize="strip_punctuation",
                                     vocabulary=["Hello", "WORLD", "dont"])  # fmt: skip
    assert strip(text).numpy().tolist() == [[2, 3, 4], [1, 1, 0]]
    chars = layers.TextVectorization(split="character", vocabulary=["a", "b", " "])
    assert chars(["ab a", "c"]).numpy().tolist() == [[2, 3, 4, 2], [1, 0, 0, 0]]
    whole = layers.TextVectorization(split=None, vocabulary=["new york", "paris"])
    assert whole([["New York"], ["Paris!"], ["Rome"]]).numpy().tolist() == [[2], [3], [1]]


def test_callable_standardize_and_split_receive_numpy_strings():
    seen = []

    def first_word_upper(strings):
        seen.append(type(strings))
        return np.char.upper(strings)

    def split_on_commas(strings):
        return [s.split(",") for s in strings]

    layer = layers.TextVectorization(standardize=first_word_upper, split=split_on_commas)
    layer.adapt(["a,b", "b,c", "b"])
    assert layer.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    assert layer(["c,a,z"]).numpy().tolist() == [[3, 4, 1]]
    assert seen[0] is np.ndarray


def test_ngrams():
    layer = layers.TextVectorization(ngrams=2, vocabulary=["the", "cat", "the cat"])
    # Unigrams first, then bigrams: "the", "cat", "sat", "the cat", "cat sat".
    assert layer(["the cat sat"]).numpy().tolist() == [[2, 3, 1, 4, 1]]
    layer = layers.TextVectorization(ngrams=(3,), vocabulary=["a b c"])
    assert layer(["a b c d", "a b"]).numpy().tolist() == [[2, 1], [0, 0]]


def test_multi_hot_count_and_tf_idf():
    layer = adapted(output_mode="multi_hot")
    out = layer(["the the cat fish", ""])
    assert out.dtype == "int32"
    assert out.numpy().tolist() == [[1, 1, 0, 1, 0, 0, 0, 0], [0] * 8]
    count = adapted(output_mode="count")(["the the cat fish"]).numpy()
    assert count.tolist() == [[1, 2, 0, 1, 0, 0, 0, 0]]
    tf_idf = adapted(output_mode="tf_idf")
    # idf = log(1 + documents / (1 + documents holding the token)); 3 documents here.
    idf_the, idf_cat = np.log(1 + 3 / 3), np.log(1 + 3 / 3)
    idf = np.log(1 + 3 / (1 + np.array([2, 2, 2, 1, 1, 1, 1])))
    oov = np.float32(idf.astype(np.float32).mean())  # the OOV entry: the tokens' mean weight
    out = tf_idf(["the the cat fish"]).numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, :4], [oov, 2 * idf_the, 0.0, idf_cat], rtol=1e-6)
    padded = adapted(output_mode="multi_hot", max_tokens=20, pad_to_max_tokens=True)
    assert padded(["cat"]).shape == (1, 20)


def test_tf_idf_documents_are_strings_however_data_is_given():
    # Each string is a document, in an array or in a batch from an iterable: "a" is in 2
    # of 3 documents, idf = log(1 + 3 / (1 + 2)).
    from_array = layers.TextVectorization(output_mode="tf_idf")
    from_array.adapt(["a b", "a", "c"])
    from_batches = layers.TextVectorization(output_mode="tf_idf")
    from_batches.adapt(iter([np.array(["a b", "a"]), np.array(["c"])]))
    index = from_array.get_vocabulary().index("a")
    assert from_array._lookup_layer._idf[index] == pytest.approx(np.log(1 + 3 / 3))
    np.testing.assert_array_equal(from_array._lookup_layer._idf, from_batches._lookup_layer._idf)


def test_adapt_from_batches_and_steps():
    layer = layers.TextVectorization()
    batches = (np.array(batch) for batch in (["x y", "y"], ["z z z"], ["w w w w"]))
    layer.adapt(batches, steps=2)
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y", "x"]


def test_set_vocabulary_and_vocabulary_file(tmp_path):
    layer = layers.TextVectorization()
    layer.set_vocabulary(["", "[UNK]", "b", "a"])  # special tokens may lead the vocabulary
    assert layer.get_vocabulary(include_special_tokens=False) == ["b", "a"]
    assert layer.vocabulary_size() == 4
    path = tmp_path / "vocab.txt"
    path.write_text("red\ngreen\nblue\n")
    layer.set_vocabulary(str(path))
    assert layer(["green red"]).numpy().tolist() == [[3, 2]]
    with pytest.raises(ValueError, match="does not exist"):
        layer.set_vocabulary(str(tmp_path / "missing.txt"))
    tf_idf = layers.TextVectorization(output_mode="tf_idf")
    with pytest.raises(ValueError, match="idf_weights"):
        tf_idf.set_vocabulary(["a"])
    tf_idf.set_vocabulary(["a", "b"], idf_weights=[1.0, 3.0])
    # Without special tokens in the vocabulary, the OOV entry weighs the mean: 2.
    assert tf_idf(["a b b z"]).numpy().tolist() == [[2.0, 1.0, 6.0]]


def test_adapt_after_a_given_vocabulary_is_an_error():
    layer = layers.TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match="TextVectorization '.*' was given a `vocabulary`"):
        layer.adapt(["a b"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_tokens": 1}, "max_tokens=1"),
        ({"max_tokens": 0}, "max_tokens=0"),
        ({"max_tokens": 2.5}, "max_tokens=2.5"),
        ({"pad_to_max_tokens": True}, "pad_to_max_tokens=True"),
        ({"output_mode": "bag"}, "output_mode='bag'"),
        ({"output_mode": "one_hot"}, "split='whitespace'"),
        ({"output_mode": "count", "output_sequence_length": 4}, "output_sequence_length=4"),
        ({"output_sequence_length": -1}, "output_sequence_length=-1"),
        ({"output_sequence_length": 2.0}, "output_sequence_length=2.0"),
        ({"ngrams": 0}, "ngrams=0"),
        ({"ngrams": (1, "2")}, "ngrams="),
        ({"standardize": "upper"}, "standardize='upper'"),
        ({"split": "comma"}, "split='comma'"),
        ({"sparse": True}, "sparse=True"),
        ({"ragged": True}, "ragged=True"),
        ({"idf_weights": [1.0]}, "output_mode='int'"),
        ({"output_mode": "tf_idf", "vocabulary": ["a"]}, "idf_weights=None"),
        ({"vocabulary": ["a", "b", "a"]}, "Repeated: \\['a'\\]"),
        ({"max_tokens": 3, "vocabulary": ["a", "b"]}, "size 4 .* max_tokens=3"),
        ({"vocabulary": ["a", "", "b"]}, "mask_token='' at index 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.TextVectorization(**kwargs)


def test_bad_data():
    layer = layers.TextVectorization()
    with pytest.raises(ValueError, match="TextVectorization '.*': adapt.* must be strings.*int"):
        layer.adapt([1, 2, 3])
    with pytest.raises(ValueError, match="must be strings.*float"):
        layer.adapt(np.ones((3, 1)))
    with pytest.raises(ValueError, match="must be strings"):
        layer.adapt(iter([["a"], [1.5, 2.5]]))
    with pytest.raises(ValueError, match="must be strings.*Python objects"):
        layer(np.array(["a", 3], dtype=object))
    with pytest.raises(ValueError, match=r"shape \(batch,\) or \(batch, 1\).*\(2, 2\)"):
        layer([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="computes on strings.*float32"):
        layer(keras.Input(shape=(1,)))
    with pytest.raises(ValueError, match=r"\(batch,\) or \(batch, 1\)"):
        layer(keras.Input(shape=(3,), dtype="string"))


def test_encoded_outputs_need_a_vocabulary():
    with pytest.raises(RuntimeError, match="vocabulary .* must be set"):
        layers.TextVectorization(output_mode="multi_hot")(["a"])


def test_vocabulary_size_is_fixed_once_called_on_an_input():
    layer = layers.TextVectorization(output_mode="multi_hot")
    layer.adapt(["a b"])
    layer.adapt(["a b c"])  # not yet in a model: the size may still change
    assert layer(keras.Input(shape=(1,), dtype="string")).shape == (None, 4)
    layer.adapt(["c b a"])  # same size: fine
    with pytest.raises(RuntimeError, match="Old vocabulary size: 4; new: 5"):
        layer.adapt(["a b c d"])


def test_symbolic_output_specs():
    strings = keras.Input(shape=(1,), dtype="string")
    assert adapted()(strings).shape == (None, None)
    assert adapted(output_sequence_length=7)(keras.Input(shape=(), dtype="string")).shape == (
        None, 7)  # fmt: skip
    counted = adapted(output_mode="count")(strings)
    assert (counted.shape, counted.dtype) == ((None, 8), "int32")
    assert adapted(output_mode="tf_idf")(strings).dtype == "float32"
    whole = layers.TextVectorization(split=None, output_sequence_length=3, vocabulary=["a"])
    assert whole(strings).shape == (None, 3)


def test_config_round_trip():
    layer = layers.TextVectorization(
        max_tokens=50, standardize="lower", split="character", ngrams=(1, 2),
        output_sequence_length=9, vocabulary=["a", "b", "a b"], name="chars",
    )  # fmt: skip
    config = layer.get_config()
    assert config["ngrams"] == [1, 2] and config["vocabulary"] == ["a", "b", "a b"]
    clone = layers.TextVectorization.from_config(config)
    assert clone.get_config() == config
    assert clone(["ab", "b a"]).numpy().tolist() == layer(["ab", "b a"]).numpy().tolist()
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, layers.TextVectorization) and restored.name == "chars"


def test_config_of_functions():
    def shout(strings):
        return np.char.upper(strings)

    layer = layers.TextVectorization(standardize=shout, vocabulary=["HI"])
    config = layer.get_config()
    assert config["standardize"]["config"] == "shout"
    clone = layers.TextVectorization.from_config(config, custom_objects={"shout": shout})
    assert clone(["hi there"]).numpy().tolist() == [[2, 1]]
    with pytest.raises(ValueError, match="TextVectorization: unknown function 'shout'"):
        layers.TextVectorization.from_config(config)
    lambda_config = layers.TextVectorization(split=lambda s: [x.split() for x in s]).get_config()
    with pytest.raises(ValueError, match="TextVectorization: the config's `split` is a Python"):
        layers.TextVectorization.from_config(lambda_config)


def test_assets_round_trip(tmp_path):
    layer = adapted(output_mode="tf_idf")
    store = {}
    layer.save_assets(str(tmp_path))
    layer.save_own_variables(store)
    assert (tmp_path / "vocabulary.txt").read_text().splitlines()[:3] == ["[UNK]", "the", "sat"]
    clone = layers.TextVectorization.from_config(layer.get_config())
    clone.load_own_variables(store)
    clone.load_assets(str(tmp_path))
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(clone(["the cat fish"]), layer(["the cat fish"]))


def test_fast_paths_agree_with_the_rules():
    from kerasish.layers.text_vectorization import PYTHON_ONLY_WHITESPACE

    # str.split() is used where no whitespace outside Keras' ASCII " \t\n\v\f\r" occurs.
    python_spaces = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert python_spaces - set(" \t\n\v\f\r") == set(PYTHON_ONLY_WHITESPACE)
    layer = layers.TextVectorization(vocabulary=["a", "b\x1cc", "ée"])
    # A NUL makes standardization go text by text; \x1c is no separator for Keras.
    texts = ["A, b\x1cC!", "ÉE a\x00b", "\u3000a\xa0a"]
    assert layer(texts).numpy().tolist() == [[2, 3], [1, 1], [1, 0]]
    assert layer(texts[:2]).numpy().tolist() == [[2, 3], [1, 1]]
