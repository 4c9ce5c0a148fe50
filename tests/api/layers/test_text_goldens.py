"""TextVectorization, StringLookup and IntegerLookup against values recorded from real
Keras 3.15 with TensorFlow 2.21 (tests/fixtures/keras_goldens/text.json, recorded by
tools/keras_goldens/record_text.py): for each case, the same constructor arguments and the
same `adapt` data (or vocabulary) give the same vocabulary, `vocabulary_size()` and outputs,
or the same construction error; and TensorFlow's FarmHash64 / SipHash bucket numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

from kerasish import layers
from kerasish.layers.string_hashing import fingerprint64, siphash24

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens"
RECORDED = json.loads((FIXTURES / "text.json").read_text())
CASES = RECORDED["cases"]

# Keras-JAX hands back int32 where TensorFlow computes int64 (JAX runs without 64-bit ints).
# An inverted IntegerLookup returns the vocabulary's own int64 ids here; Keras-JAX narrows
# them to int32.
DTYPE_EXCEPTIONS = {"il_invert": "int64", "il_invert_mask": "int64"}


def _build(case):
    kwargs = dict(case["kwargs"])
    if isinstance(kwargs.get("ngrams"), list):
        kwargs["ngrams"] = tuple(kwargs["ngrams"])  # JSON has no tuples
    layer = getattr(layers, case["class"])(**kwargs)
    if case["adapt"] is not None:
        layer.adapt(case["adapt"])
    if case["adapt_batches"] is not None:
        layer.adapt(iter([np.array(batch) for batch in case["adapt_batches"]]))
    if case["set_vocabulary"] is not None:
        layer.set_vocabulary(**case["set_vocabulary"])
    return layer


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" not in CASES[n]))
def test_vocabulary_and_outputs_match_keras(name):
    case = CASES[name]
    layer = _build(case)
    assert layer.get_vocabulary() == case["vocabulary"]
    assert layer.get_vocabulary(include_special_tokens=False) == case["vocabulary_no_special"]
    assert layer.vocabulary_size() == case["vocabulary_size"]
    for call in case["calls"]:
        if "error" in call:
            with pytest.raises(ValueError, match="num_oov_indices=0"):
                layer(np.array(call["input"]))
            continue
        out = np.asarray(layer(np.array(call["input"])))
        expected = np.array(call["output"])
        assert out.shape == tuple(call["shape"])
        if call["dtype"] == "object":  # an inverted StringLookup: strings
            assert out.tolist() == call["output"]
            continue
        assert str(out.dtype) == DTYPE_EXCEPTIONS.get(name, call["dtype"])
        if out.dtype.kind == "f":
            np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "idf_weights" in CASES[n]))
def test_idf_weights_match_keras(name):
    layer = _build(CASES[name])
    lookup = getattr(layer, "_lookup_layer", layer)
    np.testing.assert_allclose(lookup._idf, CASES[name]["idf_weights"], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" in CASES[n]))
def test_construction_errors_match_keras(name):
    with pytest.raises(ValueError):
        _build(CASES[name])


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" not in CASES[n]))
def test_config_keys_match_keras(name):
    case = CASES[name]
    config = _build(case).get_config()
    assert set(config) == set(case["config"])
    for key in ("max_tokens", "output_mode", "num_oov_indices", "mask_token", "oov_token",
                "standardize", "split", "output_sequence_length", "pad_to_max_tokens",
                "vocabulary_size", "invert", "salt", "oov_method"):  # fmt: skip
        if key in case["config"]:
            assert config[key] == case["config"][key], key


def test_hashes_match_tensorflow():
    hashes = RECORDED["hashes"]
    for i, text in enumerate(hashes["strings"]):
        data = text.encode()
        fast, strong = fingerprint64(data), siphash24((7, 11), data)
        assert fast % (2**63 - 1) == hashes["fast_2_63_minus_1"][i], text
        assert fast % (2**61 - 1) == hashes["fast_2_61_minus_1"][i], text
        assert fast % 7 == hashes["fast_7"][i], text
        assert strong % (2**63 - 1) == hashes["strong_key_7_11_2_63_minus_1"][i], text
        assert strong % (2**61 - 1) == hashes["strong_key_7_11_2_61_minus_1"][i], text
        big = siphash24((2**62 + 12345, 2**40 + 99), data)
        assert big % (2**63 - 1) == hashes["strong_key_big"][i], text


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" not in CASES[n]))
def test_keras_configs_load(name):
    case = CASES[name]
    cls = getattr(layers, case["class"])
    layer = cls.from_config(case["config"])  # Keras' own config, DTypePolicy dict and all
    assert layer.get_vocabulary() == case["vocabulary"] or case["config"]["vocabulary"] is None
    assert layer.get_config()["vocabulary_size"] == case["config"]["vocabulary_size"]
