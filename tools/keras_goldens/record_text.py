"""Record golden values for text and sequence preprocessing from real Keras 3.

Keras' TextVectorization, StringLookup and IntegerLookup need TensorFlow even on the JAX
backend, so this script runs in a venv with `tensorflow-cpu` next to keras and jax (see
README.md next to this file):

    KERAS_BACKEND=jax /work/venvs/keras-tf/bin/python tools/keras_goldens/record_text.py \
        --out tests/fixtures/keras_goldens

It writes `text.json`: per case the layer class, its constructor arguments, what it was
adapted on, the vocabulary, `vocabulary_size()`, Keras' `get_config()`, and each call's
input, output (as nested lists), dtype and shape; plus FarmHash64 / SipHash bucket numbers
TensorFlow gives for a set of strings (the hashes behind `num_oov_indices > 1` and `salt`),
`pad_sequences` results and `timeseries_dataset_from_array` batches. Errors Keras raises
are recorded as `{"error": <exception class name>}`. The output is deterministic (JSON with
sorted keys).
"""

import argparse
import inspect
import json
import os
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.layers.preprocessing.index_lookup import IndexLookup  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"record_text.py must run with KERAS_BACKEND=jax, got {keras.backend.backend()!r}")

# Real English sentences (with punctuation, capitals, contractions, numbers and a few
# non-ASCII words) to adapt on, and sentences with words the vocabulary has not seen.
CORPUS = [
    "The cat sat on the mat.",
    "The dog chased the cat around the garden!",
    "A quick brown fox jumps over the lazy dog.",
    "It's raining again; the garden will be happy.",
    "Dogs and cats don't always get along, but ours do.",
    "She bought three apples, two pears and one melon at the market.",
    "The market opens at 9:00 on Saturday mornings.",
    "Why is the sky blue? Because of Rayleigh scattering.",
    "I can't believe it's already December...",
    "Read the book, then watch the film.",
    "THE END",
    "Café owners in Zürich serve crème brûlée — délicieux!",
]
QUERIES = [
    "The cat chased a mouse in the market!",
    "Nobody expected the Spanish Inquisition.",
    "",
    "dog dog DOG",
    "  leading and   trailing spaces \t\n",
    "ÉCOLE École naïve a\u00a0b c\u3000d Don’t [UNK]",
]
WORDS = ["apple", "pear", "apple", "fig", "kiwi", "pear", "apple", "", "[UNK]", "fig", "date"]
WORD_QUERIES = ["apple", "fig", "mango", "", "[UNK]", "date", "grape", "banana"]
INTS = [7, 3, 7, 0, 12, 3, 7, -1, 5, 12, 40]
INT_QUERIES = [7, 3, 0, -1, 5, 99, -8, 41, 2, 1000001]


def fresh():
    keras.backend.clear_session()


def listed(value):
    """Numpy / JAX / TF values as JSON: nested lists of Python scalars and str."""
    if isinstance(value, (tf.Tensor, tf.RaggedTensor)):
        value = value.to_list() if isinstance(value, tf.RaggedTensor) else value.numpy()
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return np.vectorize(scalar, otypes=[object])(value).tolist()
    if value.dtype.kind == "f":
        return value.astype(np.float64).tolist()
    return value.tolist()


def scalar(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (int, np.integer)):
        return int(v)
    return str(v)


def jsonable(obj):
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return listed(obj)
    return obj


def run_calls(layer, calls):
    out = []
    for data in calls:
        entry = {"input": data}
        try:
            if getattr(layer, "invert", False) and isinstance(layer, layers.StringLookup):
                # Keras-JAX cannot hand back a string tensor: call the TF lookup itself.
                result = IndexLookup.call(layer, tf.constant(data, dtype="int64"))
            else:
                result = layer(np.array(data))
            array = np.asarray(result)
            entry.update(output=listed(array), dtype=str(array.dtype), shape=list(array.shape))
        except Exception as err:  # noqa: BLE001 -- the error class is the golden value
            entry["error"] = type(err).__name__
        out.append(entry)
    return out


def lookup_case(cls_name, kwargs, adapt=None, calls=(), adapt_batches=None, set_vocab=None):
    fresh()
    cls = getattr(layers, cls_name)
    info = {
        "class": cls_name,
        "kwargs": kwargs,
        "adapt": adapt,
        "adapt_batches": adapt_batches,
        "set_vocabulary": set_vocab,
    }
    try:
        layer = cls(**kwargs)
        if adapt is not None:
            layer.adapt(np.array(adapt) if isinstance(adapt, list) else adapt)
        if adapt_batches is not None:
            layer.adapt(iter([np.array(b) for b in adapt_batches]))
        if set_vocab is not None:
            layer.set_vocabulary(**set_vocab)
    except Exception as err:  # noqa: BLE001
        info["error"] = type(err).__name__
        info["message"] = str(err)
        return info
    info["vocabulary"] = listed(np.array(layer.get_vocabulary(), dtype=object))
    info["vocabulary_no_special"] = listed(
        np.array(layer.get_vocabulary(include_special_tokens=False), dtype=object)
    )
    info["vocabulary_size"] = int(layer.vocabulary_size())
    info["config"] = jsonable(layer.get_config())
    if kwargs.get("output_mode") in ("tf_idf", "tf-idf"):
        lookup = getattr(layer, "_lookup_layer", layer)
        info["idf_weights"] = listed(lookup.idf_weights_const)
    info["calls"] = run_calls(layer, list(calls))
    return info


TV = "TextVectorization"
TEXT_CALLS = [QUERIES, [[q] for q in QUERIES], CORPUS[:3]]

CASES = {
    # TextVectorization: vocabularies, output modes, standardize / split / ngrams
    "tv_default": lambda: lookup_case(TV, {}, CORPUS, TEXT_CALLS),
    "tv_max_tokens_seq_len": lambda: lookup_case(
        TV, {"max_tokens": 12, "output_sequence_length": 6}, CORPUS, TEXT_CALLS
    ),
    "tv_seq_len_long": lambda: lookup_case(TV, {"output_sequence_length": 12}, CORPUS, [QUERIES]),
    "tv_ngrams_2": lambda: lookup_case(TV, {"ngrams": 2, "max_tokens": 30}, CORPUS, [QUERIES]),
    "tv_ngrams_tuple": lambda: lookup_case(TV, {"ngrams": (1, 3)}, CORPUS[:4], [QUERIES[:2]]),
    "tv_ngrams_only_2": lambda: lookup_case(TV, {"ngrams": (2,)}, CORPUS[:4], [QUERIES[:2]]),
    "tv_lower": lambda: lookup_case(TV, {"standardize": "lower"}, CORPUS, [QUERIES]),
    "tv_strip": lambda: lookup_case(TV, {"standardize": "strip_punctuation"}, CORPUS, [QUERIES]),
    "tv_no_standardize": lambda: lookup_case(TV, {"standardize": None}, CORPUS, [QUERIES]),
    "tv_character": lambda: lookup_case(
        TV,
        {"split": "character", "max_tokens": 20, "output_sequence_length": 16},
        CORPUS,
        [QUERIES],
    ),
    "tv_split_none": lambda: lookup_case(
        TV,
        {"split": None},
        ["red", "Green", "blue!", "red", "red", "green"],
        [["red", "GREEN", "purple", "blue"], [["red"], ["blue"], ["x"]]],
    ),
    "tv_split_none_seq_len": lambda: lookup_case(
        TV,
        {"split": None, "output_sequence_length": 3},
        ["red", "blue", "red"],
        [[["red"], ["blue"], ["x"]]],
    ),
    "tv_multi_hot": lambda: lookup_case(TV, {"output_mode": "multi_hot"}, CORPUS, [QUERIES]),
    "tv_multi_hot_max": lambda: lookup_case(
        TV, {"output_mode": "multi_hot", "max_tokens": 10}, CORPUS, TEXT_CALLS
    ),
    "tv_multi_hot_pad": lambda: lookup_case(
        TV,
        {"output_mode": "multi_hot", "max_tokens": 200, "pad_to_max_tokens": True},
        CORPUS[:3],
        [QUERIES[:2]],
    ),
    "tv_count": lambda: lookup_case(
        TV, {"output_mode": "count", "max_tokens": 15}, CORPUS, [QUERIES]
    ),
    "tv_count_ngrams": lambda: lookup_case(
        TV, {"output_mode": "count", "ngrams": 2}, CORPUS[:5], [QUERIES[:4]]
    ),
    "tv_tf_idf": lambda: lookup_case(TV, {"output_mode": "tf_idf"}, CORPUS, [QUERIES]),
    "tv_tf_idf_max": lambda: lookup_case(
        TV, {"output_mode": "tf_idf", "max_tokens": 9}, CORPUS, [QUERIES]
    ),
    "tv_tf_idf_pad": lambda: lookup_case(
        TV,
        {"output_mode": "tf_idf", "max_tokens": 30, "pad_to_max_tokens": True},
        CORPUS[:4],
        [QUERIES[:3]],
    ),
    "tv_binary_alias": lambda: lookup_case(
        TV, {"output_mode": "binary"}, CORPUS[:3], [QUERIES[:2]]
    ),
    "tv_adapt_batches": lambda: lookup_case(
        TV, {}, None, [QUERIES], adapt_batches=[CORPUS[:5], CORPUS[5:9], CORPUS[9:]]
    ),
    "tv_adapt_2d": lambda: lookup_case(TV, {}, [[c] for c in CORPUS], [QUERIES]),
    "tv_vocabulary_arg": lambda: lookup_case(
        TV,
        {"vocabulary": ["the", "cat", "market", "dog"], "output_sequence_length": 5},
        None,
        [QUERIES],
    ),
    "tv_vocabulary_with_specials": lambda: lookup_case(
        TV, {"vocabulary": ["", "[UNK]", "the", "cat"]}, None, [QUERIES[:2]]
    ),
    "tv_set_vocabulary_tf_idf": lambda: lookup_case(
        TV,
        {"output_mode": "tf_idf"},
        None,
        [QUERIES],
        set_vocab={
            "vocabulary": ["the", "cat", "market", "dog"],
            "idf_weights": [0.5, 1.25, 2.0, 1.5],
        },
    ),
    "tv_vocabulary_tf_idf_arg": lambda: lookup_case(
        TV,
        {
            "output_mode": "tf_idf",
            "vocabulary": ["[UNK]", "the", "cat"],
            "idf_weights": [0.1, 0.5, 1.25],
        },
        None,
        [QUERIES[:2]],
    ),
    "tv_max_tokens_too_small_vocab": lambda: lookup_case(
        TV, {"max_tokens": 3, "vocabulary": ["a", "b", "c"]}, None, []
    ),
    "tv_repeated_vocab": lambda: lookup_case(TV, {"vocabulary": ["a", "b", "a"]}, None, []),
    "tv_max_tokens_3": lambda: lookup_case(TV, {"max_tokens": 3}, CORPUS, [QUERIES[:1]]),
    # StringLookup
    "sl_default": lambda: lookup_case("StringLookup", {}, WORDS, [WORD_QUERIES]),
    "sl_mask": lambda: lookup_case("StringLookup", {"mask_token": ""}, WORDS, [WORD_QUERIES]),
    "sl_mask_oov2": lambda: lookup_case(
        "StringLookup",
        {"mask_token": "[MASK]", "num_oov_indices": 2},
        WORDS,
        [WORD_QUERIES + ["[MASK]"]],
    ),
    "sl_oov0": lambda: lookup_case(
        "StringLookup", {"num_oov_indices": 0}, WORDS, [["apple", "fig"], ["apple", "mango"]]
    ),
    "sl_oov3": lambda: lookup_case(
        "StringLookup",
        {"num_oov_indices": 3, "oov_token": "<?>"},
        WORDS,
        [WORD_QUERIES + ["cherry", "lime", "a", "abcdefghijklmnopqrstuvwxyz0123456789"]],
    ),
    "sl_oov3_salt": lambda: lookup_case(
        "StringLookup", {"num_oov_indices": 3, "salt": [7, 11]}, WORDS, [WORD_QUERIES]
    ),
    "sl_max_tokens": lambda: lookup_case("StringLookup", {"max_tokens": 4}, WORDS, [WORD_QUERIES]),
    "sl_invert": lambda: lookup_case(
        "StringLookup",
        {"invert": True, "vocabulary": ["a", "b", "c"]},
        None,
        [[0, 1, 2, 3, 4, 7], [[1, 2], [3, 0]]],
    ),
    "sl_invert_mask": lambda: lookup_case(
        "StringLookup",
        {"invert": True, "mask_token": "", "vocabulary": ["a", "b"]},
        None,
        [[0, 1, 2, 3, 4]],
    ),
    "sl_one_hot": lambda: lookup_case(
        "StringLookup",
        {"output_mode": "one_hot", "vocabulary": ["a", "b", "c"]},
        None,
        [["a", "c", "z"], [["a"], ["b"]], [["a", "b"], ["c", "z"]]],
    ),
    "sl_multi_hot": lambda: lookup_case(
        "StringLookup",
        {"output_mode": "multi_hot", "vocabulary": ["a", "b", "c"]},
        None,
        [["a", "c", "z"], [["a", "a", "b"], ["z", "c", "c"]]],
    ),
    "sl_multi_hot_mask": lambda: lookup_case(
        "StringLookup",
        {"output_mode": "multi_hot", "mask_token": "", "num_oov_indices": 2},
        WORDS,
        [[["apple", "", "mango"], ["", "", "fig"]]],
    ),
    "sl_count_pad": lambda: lookup_case(
        "StringLookup",
        {"output_mode": "count", "max_tokens": 8, "pad_to_max_tokens": True},
        WORDS,
        [[["apple", "apple", "mango"], ["fig", "pear", "pear"]]],
    ),
    "sl_tf_idf_adapt": lambda: lookup_case(
        "StringLookup",
        {"output_mode": "tf_idf"},
        [["apple", "pear", "apple"], ["fig", "apple", "kiwi"], ["pear", "pear", "date"]],
        [[["apple", "pear", "mango"], ["date", "date", "fig"]]],
    ),
    "sl_vocab_with_specials": lambda: lookup_case(
        "StringLookup", {"vocabulary": ["[UNK]", "x", "y"]}, None, [["x", "y", "q"]]
    ),
    "sl_vocab_mask_inside": lambda: lookup_case(
        "StringLookup", {"vocabulary": ["x", "", "y"], "mask_token": ""}, None, []
    ),
    "sl_adapt_2d_ties": lambda: lookup_case(
        "StringLookup", {}, [["b", "a"], ["c", "b"], ["a", "d"], ["Z", "é"]], [["a", "Z"]]
    ),
    # IntegerLookup
    "il_default": lambda: lookup_case("IntegerLookup", {}, INTS, [INT_QUERIES]),
    "il_mask0": lambda: lookup_case("IntegerLookup", {"mask_token": 0}, INTS, [INT_QUERIES]),
    "il_oov3": lambda: lookup_case(
        "IntegerLookup", {"num_oov_indices": 3, "mask_token": 0}, INTS, [INT_QUERIES]
    ),
    "il_oov3_farmhash": lambda: lookup_case(
        "IntegerLookup", {"num_oov_indices": 3, "oov_method": "farmhash"}, INTS, [INT_QUERIES]
    ),
    "il_oov3_salt": lambda: lookup_case(
        "IntegerLookup",
        {"num_oov_indices": 3, "oov_method": "farmhash", "salt": 5},
        INTS,
        [INT_QUERIES],
    ),
    "il_invert": lambda: lookup_case(
        "IntegerLookup", {"invert": True, "vocabulary": [10, 20, 30]}, None, [[0, 1, 2, 3, 9]]
    ),
    "il_invert_mask": lambda: lookup_case(
        "IntegerLookup",
        {"invert": True, "mask_token": 0, "oov_token": -7, "vocabulary": [10, 20]},
        None,
        [[0, 1, 2, 3, 9]],
    ),
    "il_multi_hot": lambda: lookup_case(
        "IntegerLookup",
        {"output_mode": "multi_hot", "max_tokens": 4},
        INTS,
        [[[7, 3, 3], [99, 12, 7]]],
    ),
    "il_count": lambda: lookup_case(
        "IntegerLookup",
        {"output_mode": "count", "vocabulary": [1, 2, 3]},
        None,
        [[[1, 1, 4], [2, 3, 3]]],
    ),
    "il_tf_idf": lambda: lookup_case(
        "IntegerLookup",
        {"output_mode": "tf_idf"},
        [[1, 2, 2], [2, 3, 4], [1, 1, 5]],
        [[[1, 2, 9], [5, 5, 2]]],
    ),
    "il_one_hot": lambda: lookup_case(
        "IntegerLookup",
        {"output_mode": "one_hot", "vocabulary": [4, 8]},
        None,
        [[4, 8, 5]],
    ),
}


HASH_STRINGS = [
    "",
    "a",
    "ab",
    "abc",
    "abcd",
    "hello",
    "hello world",
    "0123456789abcdef",
    "0123456789abcdefg",
    "x" * 31,
    "y" * 32,
    "z" * 33,
    "w" * 63,
    "v" * 64,
    "u" * 65,
    "The quick brown fox jumps over the lazy dog" * 3,
    "é",
    "naïve café",
    "[UNK]",
    "-1",
    "1000001",
    "é" * 70,
    "".join(chr(40 + i) for i in range(200)),
]


def record_hashes():
    strings = tf.constant(HASH_STRINGS)
    return {
        "strings": HASH_STRINGS,
        "fast_2_63_minus_1": tf.strings.to_hash_bucket_fast(strings, 2**63 - 1).numpy().tolist(),
        "fast_2_61_minus_1": tf.strings.to_hash_bucket_fast(strings, 2**61 - 1).numpy().tolist(),
        "fast_7": tf.strings.to_hash_bucket_fast(strings, 7).numpy().tolist(),
        "strong_key_7_11_2_63_minus_1": tf.strings.to_hash_bucket_strong(
            strings, 2**63 - 1, key=[7, 11]
        )
        .numpy()
        .tolist(),
        "strong_key_7_11_2_61_minus_1": tf.strings.to_hash_bucket_strong(
            strings, 2**61 - 1, key=[7, 11]
        )
        .numpy()
        .tolist(),
        "strong_key_big": tf.strings.to_hash_bucket_strong(
            strings, 2**63 - 1, key=[2**62 + 12345, 2**40 + 99]
        )
        .numpy()
        .tolist(),
    }


PAD_CASES = {
    "default": ([[1], [2, 3], [4, 5, 6]], {}),
    "value": ([[1], [2, 3], [4, 5, 6]], {"value": -1}),
    "post": ([[1], [2, 3], [4, 5, 6]], {"padding": "post"}),
    "maxlen2": ([[1], [2, 3], [4, 5, 6]], {"maxlen": 2}),
    "maxlen2_trunc_post": ([[1], [2, 3], [4, 5, 6]], {"maxlen": 2, "truncating": "post"}),
    "maxlen5_post_post": (
        [[1, 2, 3, 4, 5, 6], [7]],
        {"maxlen": 5, "padding": "post", "truncating": "post"},
    ),
    "empty_rows": ([[], [1, 2], []], {}),
    "float": ([[0.5, 1.5], [2.25]], {"dtype": "float32", "value": -0.5}),
    "float_into_int": ([[0.5, 1.5], [2.75]], {}),
    "vectors": ([[[1, 2], [3, 4]], [[5, 6]]], {"maxlen": 3}),
    "strings": ([["a", "b"], ["c"]], {"dtype": object, "value": "<pad>"}),
    "numpy_rows": ([np.array([1, 2, 3]), np.array([4])], {"maxlen": 2, "padding": "post"}),
    "all_empty_maxlen": ([[], []], {"maxlen": 3}),
    "bad_padding": ([[1, 2], [3]], {"padding": "middle"}),
    "bad_truncating": ([[1, 2], [3]], {"truncating": "middle", "maxlen": 1}),
    "str_value_int_dtype": ([[1], [2]], {"value": "x"}),
    "not_iterable_rows": ([1, 2], {}),
    "negative_maxlen": ([[1, 2]], {"maxlen": -1}),
    "zero_maxlen": ([[1, 2]], {"maxlen": 0}),
}


def record_pad():
    out = {}
    for name, (seqs, kwargs) in PAD_CASES.items():
        entry = {
            "sequences": jsonable(seqs),
            "kwargs": {k: ("object" if v is object else v) for k, v in kwargs.items()},
        }
        try:
            result = keras.utils.pad_sequences(seqs, **kwargs)
            entry.update(output=listed(result), dtype=str(result.dtype), shape=list(result.shape))
        except Exception as err:  # noqa: BLE001
            entry["error"] = type(err).__name__
        out[name] = entry
    return out


TIMESERIES_CASES = {
    "basic": {"sequence_length": 5, "batch_size": 4},
    "stride_rate": {
        "sequence_length": 3,
        "sequence_stride": 2,
        "sampling_rate": 2,
        "batch_size": 3,
    },
    "start_end": {"sequence_length": 4, "start_index": 3, "end_index": 17, "batch_size": 5},
    "no_targets": {"sequence_length": 6, "batch_size": 7, "no_targets": True},
    "short_targets": {"sequence_length": 2, "batch_size": 8, "target_length": 5},
    "too_long": {"sequence_length": 40, "batch_size": 4},
    "unbatched": {"sequence_length": 3, "batch_size": None, "end_index": 8},
    "shuffled": {"sequence_length": 5, "batch_size": 4, "shuffle": True, "seed": 3},
    "end_index_len": {"sequence_length": 5, "end_index": 30},
    "start_negative": {"sequence_length": 5, "start_index": -1},
    "start_beyond": {"sequence_length": 5, "start_index": 30},
    "end_before_start": {"sequence_length": 5, "start_index": 6, "end_index": 4},
    "rate_zero": {"sequence_length": 5, "sampling_rate": 0},
    "stride_too_big": {"sequence_length": 5, "sequence_stride": 30},
}


def record_timeseries():
    data = np.arange(60, dtype="float32").reshape(30, 2)
    targets = np.arange(30, dtype="int32") * 10
    out = {"data": listed(data), "targets": listed(targets)}
    for name, spec in TIMESERIES_CASES.items():
        spec = dict(spec)
        no_targets = spec.pop("no_targets", False)
        target_length = spec.pop("target_length", None)
        tg = None if no_targets else targets[:target_length] if target_length else targets
        entry = {"kwargs": dict(spec), "no_targets": no_targets, "target_length": target_length}
        try:
            ds = keras.utils.timeseries_dataset_from_array(data, tg, **spec)
            batches = []
            for batch in ds:
                if no_targets:
                    batches.append({"x": listed(batch)})
                else:
                    batches.append({"x": listed(batch[0]), "y": listed(batch[1])})
            entry["batches"] = batches
        except Exception as err:  # noqa: BLE001
            entry["error"] = type(err).__name__
        out[name] = entry
    return out


def versions():
    import jax

    return {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "jax": jax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    cases = {name: make() for name, make in CASES.items()}
    index = {
        "description": "Text and sequence preprocessing goldens from real Keras; see "
        "tools/keras_goldens/record_text.py.",
        "versions": versions(),
        "corpus": CORPUS,
        "queries": QUERIES,
        "lookup_case_source": inspect.getsource(lookup_case),
        "cases": cases,
        "hashes": record_hashes(),
        "pad_sequences": record_pad(),
        "timeseries": record_timeseries(),
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "text.json"), "w") as f:
        json.dump(index, f, indent=None, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} layer cases")


if __name__ == "__main__":
    main()
