"""TextVectorization: strings to token indices (or multi-hot, count, TF-IDF vectors), in
plain Python and numpy, as Keras' layer of the same name.

Each string is standardized (Keras' default: ASCII letters lowercased, ASCII punctuation
removed), split into tokens (on ASCII whitespace by default), optionally turned into
ngrams, then looked up in a vocabulary held by an inner StringLookup whose mask token is ""
(index 0, the padding) and OOV token "[UNK]" (index 1).
"""

from __future__ import annotations

import itertools
import re
import string

import numpy as np

from .data_layer import DataLayer, as_string_array
from .lambda_layer import _function_config, _resolve_function
from .lookup import StringLookup
from .lookup_utils import (
    RaggedRows,
    check_max_tokens,
    check_not_sparse,
    check_output_mode,
    is_batch_iterable,
    listify,
)

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")

# Keras lowercases with TensorFlow's ASCII-only `strings.lower`, removes the ASCII
# punctuation `!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~` and splits on the ASCII whitespace
# " \t\n\v\f\r": non-ASCII letters keep their case, and "’", "—" or a no-break space stay.
_LOWER = {ord(c): ord(c.lower()) for c in string.ascii_uppercase}
_STRIP = dict.fromkeys(map(ord, string.punctuation))
_TABLES = {
    "lower": _LOWER,
    "strip_punctuation": _STRIP,
    "lower_and_strip_punctuation": {**_LOWER, **_STRIP},
}
# The same as (lowercase table, bytes deleted) for UTF-8 bytes, where ASCII bytes only ever
# stand for ASCII characters: one `bytes.translate` standardizes a whole batch.
_ASCII_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_BYTE_TABLES = {
    "lower": (_ASCII_LOWER, b""),
    "strip_punctuation": (None, string.punctuation.encode()),
    "lower_and_strip_punctuation": (_ASCII_LOWER, string.punctuation.encode()),
}
_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")
# What Python's `str.split()` takes for whitespace besides the ASCII " \t\n\v\f\r": where
# none of these occur, `str.split()` splits as Keras does, and faster than a regex.
PYTHON_ONLY_WHITESPACE = (
    "\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_PYTHON_ONLY_WHITESPACE = re.compile(f"[{PYTHON_ONLY_WHITESPACE}]")


class TextVectorization(DataLayer):
    """Turns strings into sequences of token indices, or into multi-hot, count or TF-IDF
    vectors, from a vocabulary learned by `adapt` (or given).

    In `"int"` mode index 0 is padding (the empty token) and 1 is "[UNK]" (unknown words);
    the vocabulary follows, most frequent first (ties: the token that sorts highest first).
    `max_tokens` counts those two special entries (one, "[UNK]", in the other modes).
    Sequences are padded with 0 to the longest in the batch, or padded and truncated (at
    the end) to `output_sequence_length`.

    Args:
        max_tokens: the largest vocabulary, special tokens included; None for no limit.
        standardize: "lower_and_strip_punctuation" (default), "lower", "strip_punctuation",
            None, or a function from a numpy array of strings to strings.
        split: "whitespace" (default), "character", None (each string is one token), or a
            function from a 1-D numpy array of strings to a list of token lists.
        ngrams: None, an int n (ngrams of 1..n tokens), or a tuple of ngram widths.
        output_mode: "int", "multi_hot", "count" or "tf_idf" ("one_hot" with split=None).
        output_sequence_length: the length of "int" outputs (padded or truncated).
        pad_to_max_tokens: vectors of `max_tokens` entries whatever the vocabulary size.
        vocabulary, idf_weights: a vocabulary (and IDF weights) to use instead of `adapt`.

    Example:
        >>> import kerasish as keras
        >>> layer = keras.layers.TextVectorization(output_sequence_length=4)
        >>> layer.adapt(["The cat sat.", "The dog sat on the cat!"])
        >>> layer.get_vocabulary()
        ['', '[UNK]', 'the', 'sat', 'cat', 'on', 'dog']
        >>> layer(["the cat ate"]).numpy().tolist()
        [[2, 4, 1, 0]]
    """

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        name=None,
        **kwargs,
    ):
        check_not_sparse("TextVectorization", sparse)
        if ragged:
            raise ValueError(
                "TextVectorization: `ragged=True` needs ragged tensors, which kerasish does not "
                "have (Keras too allows it only on its TensorFlow backend). Received: "
                f"ragged={ragged!r}"
            )
        _check_choice("standardize", standardize, STANDARDIZE)
        _check_choice("split", split, SPLIT)
        output_mode = check_output_mode("TextVectorization", output_mode)
        if output_mode == "one_hot" and split is not None:
            raise ValueError(
                "TextVectorization: output_mode='one_hot' encodes one token per string, so it "
                "needs split=None (for token counts per string use 'multi_hot' or 'count'). "
                f"Received: split={split!r}"
            )
        self._ngrams = _check_ngrams(ngrams)
        if output_mode == "int":
            if output_sequence_length is not None and (
                isinstance(output_sequence_length, bool)
                or not isinstance(output_sequence_length, (int, np.integer))
                or output_sequence_length < 0
            ):
                raise ValueError(
                    "TextVectorization: `output_sequence_length` must be None or an integer "
                    f">= 0. Received: output_sequence_length={output_sequence_length!r}"
                )
        elif output_sequence_length is not None:
            raise ValueError(
                "TextVectorization: `output_sequence_length` is only used with "
                f"output_mode='int'. Received: output_mode={output_mode!r}, "
                f"output_sequence_length={output_sequence_length!r}"
            )
        check_max_tokens("TextVectorization", max_tokens, pad_to_max_tokens)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._output_mode = output_mode
        self._output_sequence_length = (
            None if output_sequence_length is None else int(output_sequence_length)
        )
        self._encoding = encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens,
            mask_token="",
            output_mode=output_mode,
            has_input_vocabulary=has_input_vocabulary,
            encoding=encoding,
            vocabulary_size=vocabulary_size,
            owner_label=f"TextVectorization '{self.name}'",
        )

    # ---- vocabulary ------------------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learns the vocabulary (and, for "tf_idf", document frequencies) from `data`: a
        list or array of strings (each one a document), or an iterable of such batches (at
        most `steps` of them are read). `batch_size` is accepted for Keras 2 code."""
        lookup = self._lookup_layer
        lookup.reset_state()
        if is_batch_iterable(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            strings = as_string_array(self, data, "adapt() data", self._encoding)
            self.update_state(strings[:, None] if strings.ndim == 1 else strings)
        lookup.finalize_state()

    def update_state(self, data) -> None:
        self._lookup_layer.update_state(self._tokenize(data, "adapt() data"))

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, a token's position being its index ("" and "[UNK]" first in
        "int" mode, unless `include_special_tokens=False`)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """The number of indices, special tokens included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Sets the vocabulary (tokens, or a text file with one per line; "" and "[UNK]" may
        lead it) and, for "tf_idf", one IDF weight per entry."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ---- from strings to tokens ------------------------------------------------------------

    def _tokenize(self, data, what: str):
        """Standardized, split (and ngram) tokens: a `RaggedRows` of token lists when
        splitting a batch, else a numpy array of tokens."""
        strings = as_string_array(self, data, what, self._encoding)
        if self._split is not None and (
            strings.ndim > 2 or (strings.ndim == 2 and strings.shape[-1] != 1)
        ):
            raise ValueError(
                f"TextVectorization '{self.name}' splits a batch of strings: its input must "
                f"have shape (batch,) or (batch, 1). Received: shape {strings.shape}"
            )
        texts = self._standardized(strings)
        if self._split is None:
            strings = np.array(texts, dtype=str).reshape(strings.shape)
            return self._dense_ngrams(strings) if self._ngrams else strings
        rows = self._split_batch(texts)
        if strings.ndim == 0:
            tokens = _ngrams(rows[0], self._ngrams) if self._ngrams else rows[0]
            return np.array(tokens, dtype=str)
        if self._ngrams:
            rows = [_ngrams(row, self._ngrams) for row in rows]
        return RaggedRows(rows)

    def _standardized(self, strings: np.ndarray) -> list:
        """The standardized strings, flattened into a list."""
        if callable(self._standardize):
            out = self._standardize(strings)
            out = as_string_array(self, out, "the output of `standardize`", self._encoding)
            if out.size != strings.size:
                raise ValueError(
                    f"TextVectorization '{self.name}': `standardize` must return one string per "
                    f"input string. Received: {out.size} strings for {strings.size}"
                )
            strings = out
        texts = strings.reshape(-1).tolist()
        if self._standardize is None or callable(self._standardize):
            return texts
        return _standardize_texts(texts, self._standardize)

    def _split_batch(self, texts: list) -> list:
        if self._split == "whitespace":
            if _PYTHON_ONLY_WHITESPACE.search("\x00".join(texts)) is None:
                return [text.split() for text in texts]
            return [_TOKEN.findall(text) for text in texts]
        if self._split == "character":
            return [list(text) for text in texts]
        rows = self._split(np.array(texts, dtype=str))
        try:
            rows = [[str(t) for t in row] for row in rows]
        except TypeError:
            rows = None
        if rows is None or len(rows) != len(texts):
            raise ValueError(
                f"TextVectorization '{self.name}': `split` must return one list of tokens per "
                f"string ({len(texts)} here). Received: {type(rows).__name__}"
            )
        return rows

    def _dense_ngrams(self, tokens: np.ndarray) -> np.ndarray:
        if tokens.ndim == 0:
            raise ValueError(
                f"TextVectorization '{self.name}': ngrams of unsplit text need a sequence of "
                "strings. Received: a single string"
            )
        rows = [_ngrams(row, self._ngrams) for row in tokens.reshape(-1, tokens.shape[-1])]
        width = len(rows[0]) if rows else 0
        return np.array(rows, dtype=str).reshape(*tokens.shape[:-1], width)

    # ---- calling -------------------------------------------------------------------------------

    def compute(self, inputs) -> np.ndarray:
        lookup = self._lookup_layer
        tokens = self._tokenize(inputs, "inputs")
        if not isinstance(tokens, RaggedRows):
            out = lookup.compute(tokens)
            if self._output_mode == "int" and self._output_sequence_length is not None:
                out = _fit_last_axis(out, self._output_sequence_length)
            return out
        lookup._ensure_known_vocab_size()
        indices = lookup.lookup_list(list(itertools.chain.from_iterable(tokens)))
        lengths = np.array([len(row) for row in tokens], np.int64)
        if self._output_mode != "int":
            return lookup.encode_rows(indices, lengths, lookup._depth())
        length = self._output_sequence_length
        if length is None:
            length = int(lengths.max(initial=0))
        # Row i's tokens go to out[i, :length]; the rest stays 0 (padding).
        rows = np.repeat(np.arange(len(lengths)), lengths)
        positions = np.arange(len(indices)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        kept = positions < length
        out = np.zeros((len(lengths), length), np.int32)
        out[rows[kept], positions[kept]] = indices[kept]
        return out

    def output_spec(self, input_shape: tuple) -> tuple:
        if self._split is None:
            shape = input_shape
            if self._ngrams and shape:
                n = shape[-1]
                width = None if n is None else sum(max(n - k + 1, 0) for k in self._ngrams)
                shape = (*shape[:-1], width)
            if self._output_mode == "int":
                if self._output_sequence_length is not None:
                    shape = (*shape[:-1], self._output_sequence_length)
                return shape, "int32"
            return self._lookup_layer.output_spec(shape)
        if len(input_shape) > 2 or (len(input_shape) == 2 and input_shape[-1] != 1):
            raise ValueError(
                f"TextVectorization '{self.name}' splits a batch of strings: its input must "
                f"have shape (batch,) or (batch, 1). Received: shape {input_shape}"
            )
        batch = input_shape[0] if input_shape else None
        if self._output_mode == "int":
            return (batch, self._output_sequence_length), "int32"
        return self._lookup_layer.output_spec((batch, None))

    # ---- config and saving -------------------------------------------------------------------

    def get_config(self) -> dict:
        lookup = self._lookup_layer

        def function_or_name(value):
            return _function_config(value) if callable(value) else value

        return {
            **super().get_config(),
            "max_tokens": lookup.max_tokens,
            "standardize": function_or_name(self._standardize),
            "split": function_or_name(self._split),
            "ngrams": listify(self._ngrams_arg),
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": lookup.input_vocabulary,
            "idf_weights": lookup.input_idf_weights,
            "encoding": self._encoding,
            "vocabulary_size": lookup._frozen_vocab_size,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        for key in ("standardize", "split"):
            if isinstance(config.get(key), dict):
                config[key] = _resolve_function(
                    config[key], key, custom_objects, owner="TextVectorization"
                )
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)

    def save_assets(self, dir_path: str) -> None:
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path: str) -> None:
        self._lookup_layer.load_assets(dir_path)

    def save_own_variables(self, store) -> None:
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store) -> None:
        self._lookup_layer.load_own_variables(store)


def _check_choice(arg: str, value, allowed: tuple) -> None:
    if value is None or callable(value) or value in allowed:
        return
    raise ValueError(
        f"TextVectorization: `{arg}` must be one of {allowed}, None or a function. Received: "
        f"{arg}={value!r}"
    )


def _check_ngrams(ngrams):
    """The ngram widths as a tuple (`n` means 1..n), or None."""
    if ngrams is None:
        return None
    if isinstance(ngrams, (int, np.integer)) and not isinstance(ngrams, bool) and ngrams > 0:
        return tuple(range(1, int(ngrams) + 1))
    if (
        isinstance(ngrams, (tuple, list))
        and ngrams
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in ngrams)
    ):
        return tuple(ngrams)
    raise ValueError(
        "TextVectorization: `ngrams` must be None, a positive integer or a tuple of positive "
        f"integers. Received: ngrams={ngrams!r}"
    )


def _standardize_texts(texts: list, mode: str) -> list:
    """Keras' standardization of each text (ASCII lowercasing and/or ASCII punctuation
    removed): one `bytes.translate` over the batch's UTF-8 bytes, joined by NULs, unless a
    text holds a NUL or cannot be encoded (then text by text)."""
    joined = "\x00".join(texts)
    if texts and joined.count("\x00") == len(texts) - 1:
        try:
            data = joined.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            data = None
        if data is not None:
            lower, delete = _BYTE_TABLES[mode]
            return data.translate(lower, delete).decode("utf-8").split("\x00")
    table = _TABLES[mode]
    return [text.translate(table) for text in texts]


def _ngrams(tokens, widths: tuple) -> list:
    """All ngrams of each width in turn, their tokens joined by a space (TensorFlow's
    `strings.ngrams` order)."""
    tokens = list(tokens)
    out = []
    for n in widths:
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def _fit_last_axis(array: np.ndarray, length: int) -> np.ndarray:
    """`array` truncated or zero-padded at the end of its last axis to `length`."""
    array = array[..., :length]
    if array.shape[-1] < length:
        pad = [(0, 0)] * (array.ndim - 1) + [(0, length - array.shape[-1])]
        array = np.pad(array, pad)
    return array
