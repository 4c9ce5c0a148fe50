"""`IndexLookup`: what StringLookup and IntegerLookup share (and TextVectorization uses): a
vocabulary, learned by `adapt` or given, mapping tokens to indices, and the encodings of
those indices (`"int"`, `"one_hot"`, `"multi_hot"`, `"count"`, `"tf_idf"`).

The index layout is Keras': the mask token first when there is one (in `"int"` mode only),
then `num_oov_indices` out-of-vocabulary indices, then the vocabulary, most frequent first
(ties broken by the tokens themselves, highest first). With several OOV indices a token's
bucket is `token % num_oov_indices` for integers (`oov_method="floormod"`) and
`Fingerprint64(token) % num_oov_indices` for strings (SipHash-2-4 when a `salt` is given).
"""

from __future__ import annotations

import collections
import itertools
import os

import numpy as np

from backend import config as engine_config

from .data_layer import DataLayer
from .lookup_utils import (
    RaggedRows,
    bag_encoding,
    check_max_tokens,
    check_not_sparse,
    check_output_mode,
    given_idf_weights,
    is_batch_iterable,
    learned_idf_weights,
    listify,
    one_hot,
)
from .string_hashing import fingerprint64, siphash24

_MISSING = -1  # a token the table does not hold
_DROPPED = -2  # the mask token outside "int" mode: it counts nowhere


class IndexLookup(DataLayer):
    """The base of StringLookup and IntegerLookup (see the module docstring)."""

    def __init__(
        self,
        max_tokens,
        num_oov_indices,
        mask_token,
        oov_token,
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        salt=None,
        vocabulary_size=None,
        has_input_vocabulary=None,
        **kwargs,
    ):
        # TextVectorization's inner lookup names its owner in errors.
        self._owner_label = kwargs.pop("owner_label", None)
        layer = self._owner_label or type(self).__name__
        check_max_tokens(layer, max_tokens, pad_to_max_tokens)
        if (
            isinstance(num_oov_indices, bool)
            or not isinstance(num_oov_indices, int)
            or (num_oov_indices < 0)
        ):
            raise ValueError(
                f"{layer}: `num_oov_indices` must be an integer >= 0. Received: "
                f"num_oov_indices={num_oov_indices!r}"
            )
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(
                f"{layer}: `oov_method` must be 'floormod' or 'farmhash'. Received: "
                f"oov_method={oov_method!r}"
            )
        salt = self._check_salt(salt, oov_method)
        output_mode = check_output_mode(layer, output_mode)
        if invert and output_mode != "int":
            raise ValueError(
                f"{layer}: `output_mode` must be 'int' when `invert=True`. Received: "
                f"output_mode={output_mode!r}"
            )
        check_not_sparse(layer, sparse)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                f"{layer}: `idf_weights` is only used with output_mode='tf_idf'. Received: "
                f"output_mode={output_mode!r}"
            )
        if has_input_vocabulary is None:
            has_input_vocabulary = vocabulary is not None
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(
                f"{layer}: with output_mode='tf_idf', a `vocabulary` needs `idf_weights` too. "
                "Received: idf_weights=None"
            )
        super().__init__(**kwargs)
        self.invert = bool(invert)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = salt
        # The vocabulary as given (for the config), unless it is a file path.
        self.input_vocabulary = None if isinstance(vocabulary, str) else listify(vocabulary)
        self.input_idf_weights = listify(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._frozen_vocab_size = vocabulary_size
        self._width_in_use = None  # the output width a symbolic call has fixed
        self._tokens: list = []
        self._idf = None
        self._rebuild_table()
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def _label(self) -> str:
        """How errors name the layer (TextVectorization's inner lookup names its owner)."""
        return self._owner_label or f"{type(self).__name__} '{self.name}'"

    # ---- what StringLookup and IntegerLookup define ----------------------------------------

    def _keys(self, data, what: str) -> np.ndarray:
        """`data` as an array of this layer's token type (a clear error otherwise)."""
        raise NotImplementedError

    def _hash_bytes(self, token) -> bytes:
        raise NotImplementedError

    integer_vocabulary = False

    def _check_salt(self, salt, oov_method):
        if salt is None:
            return None
        if self.integer_vocabulary and oov_method != "farmhash":
            raise ValueError(
                f"{type(self).__name__}: `salt` is only used with oov_method='farmhash'. "
                f"Received: oov_method={oov_method!r}"
            )
        if isinstance(salt, int) and not isinstance(salt, bool):
            return [salt, salt]
        if (
            isinstance(salt, (list, tuple))
            and len(salt) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) for s in salt)
        ):
            return list(salt)
        raise ValueError(
            f"{type(self).__name__}: `salt` must be an integer or a pair of integers. "
            f"Received: salt={salt!r}"
        )

    # ---- the index layout --------------------------------------------------------------------

    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: mask and OOV indices included."""
        return self._token_start_index() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, a token's position being its index; without the mask and OOV
        tokens when `include_special_tokens=False`."""
        if not include_special_tokens:
            return list(self._tokens)
        specials = [self.mask_token] * self._oov_start_index()
        return specials + [self.oov_token] * self.num_oov_indices + list(self._tokens)

    def _rebuild_table(self) -> None:
        start = self._token_start_index()
        table = {token: start + i for i, token in enumerate(self._tokens)}
        if self.mask_token is not None:
            table[self.mask_token] = 0 if self.output_mode == "int" else _DROPPED
        self._table = table

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _ensure_known_vocab_size(self) -> None:
        if self.output_mode == "int":
            return
        unknown = self._frozen_vocab_size is None and not self.pad_to_max_tokens
        if unknown or (self.output_mode == "tf_idf" and self._idf is None):
            raise RuntimeError(
                f"{self._label()}: with output_mode="
                f"{self.output_mode!r}, the vocabulary (and for 'tf_idf' the IDF weights) must "
                "be set before the layer is called: pass `vocabulary`, or call adapt() on "
                "sample data."
            )

    def _record_vocabulary_size(self) -> None:
        size = self.vocabulary_size()
        fixed = self._width_in_use
        if (
            self.output_mode != "int"
            and not self.pad_to_max_tokens
            and fixed is not None
            and size != fixed
        ):
            raise RuntimeError(
                f"{self._label()}: with output_mode={self.output_mode!r} "
                "and pad_to_max_tokens=False, the vocabulary size cannot change once the layer "
                f"was called on a model's input. Old vocabulary size: {fixed}; new: {size}"
            )
        self._frozen_vocab_size = size

    # ---- setting the vocabulary ------------------------------------------------------------

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Sets the vocabulary (a list or array of tokens, or the path of a text file with
        one token per line) and, for output_mode='tf_idf', the IDF weights (one per token).
        The mask and OOV tokens may lead the vocabulary, in the layer's order."""
        layer = self._label()
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{layer}: `idf_weights` must be set when output_mode='tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(
                f"{layer}: `idf_weights` is only used with output_mode='tf_idf'. Received: "
                f"output_mode={self.output_mode!r}"
            )
        if isinstance(vocabulary, str):
            if not os.path.exists(vocabulary):
                raise ValueError(f"{layer}: vocabulary file {vocabulary!r} does not exist.")
            if self.output_mode == "tf_idf":
                raise ValueError(
                    f"{layer}: output_mode='tf_idf' cannot read its vocabulary from a file."
                )
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = f.read().splitlines()
            if self.integer_vocabulary:
                vocabulary = [int(line) for line in vocabulary]
        if np.size(vocabulary) == 0:
            raise ValueError(f"{layer}: cannot set an empty vocabulary. Received: vocabulary=[]")
        tokens = self._keys(vocabulary, "the vocabulary").reshape(-1).tolist()
        start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index()
        specials += [self.oov_token] * self.num_oov_indices
        given = list(tokens)
        found_specials = tokens[:start] == specials
        if found_specials:
            tokens = tokens[start:]
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(
                f"{layer}: the vocabulary repeats some tokens; each token must appear once. "
                f"Repeated: {repeated}"
            )
        for token, what in ((self.mask_token, "mask_token"), (self.oov_token, "oov_token")):
            if token is None or token not in tokens or (what == "oov_token" and not self.invert):
                continue
            raise ValueError(
                f"{layer}: the vocabulary holds the {what} {token!r} after its start. Leave "
                "the mask and OOV tokens out of the vocabulary, or put them only at its start, "
                f"in this order: {specials}. Received: {what}={token!r} at index "
                f"{len(given) - 1 - given[::-1].index(token)}"
            )
        size = start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                f"{layer}: the vocabulary is larger than `max_tokens`. Received a vocabulary "
                f"of size {size} (special tokens included); max_tokens={self.max_tokens}"
            )
        weights = None
        if self.output_mode == "tf_idf":
            # Without its special tokens, the vocabulary's OOV entries get the mean weight.
            front = 0 if found_specials else start
            pad_to = self.max_tokens if self.pad_to_max_tokens else None
            weights = given_idf_weights(self._label(), idf_weights, len(given), front, pad_to)
        self._tokens = tokens
        self._rebuild_table()
        if weights is not None:
            self._idf = weights
        self._record_vocabulary_size()

    # ---- adapt -------------------------------------------------------------------------------

    def adapt(self, data, steps=None) -> None:
        """Learns the vocabulary from `data` (an array or list of tokens, or an iterable of
        batches of them, of which at most `steps` are read): tokens by frequency, highest
        first, ties broken by the tokens, highest first; `max_tokens` keeps the most frequent.
        With output_mode='tf_idf' it also learns each token's document frequency (a document
        is an element of an array, or a row of a 2-D one)."""
        self.reset_state()
        if is_batch_iterable(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            keys = self._keys(data, "adapt() data")
            self.update_state(keys[:, None] if keys.ndim == 1 else keys)
        self.finalize_state()

    def update_state(self, data) -> None:
        """Counts the tokens of one batch (a 1-D batch is one document)."""
        if self._has_input_vocabulary:
            raise ValueError(
                f"{self._label()} was given a `vocabulary`; it cannot also be adapted."
            )
        if isinstance(data, RaggedRows):
            rows = data
        else:
            keys = self._keys(data, "adapt() data")
            if keys.ndim <= 1:
                keys = keys.reshape(1, keys.size)
            keys = keys.reshape(keys.shape[0], int(np.prod(keys.shape[1:])))
            rows = keys.tolist()
        self._counts.update(itertools.chain.from_iterable(rows))
        if self.output_mode == "tf_idf":
            self._document_counts.update(itertools.chain.from_iterable(map(set, rows)))
            self._num_documents += len(rows)

    def finalize_state(self) -> None:
        """Turns the counts into the vocabulary (and IDF weights)."""
        if self._has_input_vocabulary or not self._counts:
            # As Keras: data without any token leaves the vocabulary as it was.
            self._record_vocabulary_size()
            return
        counts = self._counts
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - self._token_start_index()]
        self._tokens = [token for token, _ in ranked]
        self._rebuild_table()
        if self.output_mode == "tf_idf":
            frequency = [self._document_counts[t] for t in self._tokens]
            pad_to = self.max_tokens if self.pad_to_max_tokens else None
            self._idf = learned_idf_weights(
                frequency, self._num_documents, self._token_start_index(), pad_to
            )
        self.reset_state()
        self._record_vocabulary_size()

    def reset_state(self) -> None:
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    # ---- calling -------------------------------------------------------------------------------

    def compute(self, inputs) -> np.ndarray:
        self._ensure_known_vocab_size()
        if self.invert:
            return self._inverted(inputs)
        keys = self._keys(inputs, "inputs")
        scalar = keys.ndim == 0
        indices = self.lookup(keys.reshape(1) if scalar else keys)
        if self.output_mode == "int":
            return indices.reshape(()).astype(np.int32) if scalar else indices.astype(np.int32)
        return self.encode(indices)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The indices (int64) of an array of tokens; the mask token outside "int" mode
        gets -2 (counted nowhere)."""
        return self.lookup_list(keys.reshape(-1).tolist()).reshape(keys.shape)

    def lookup_list(self, flat: list) -> np.ndarray:
        """The indices (int64, 1-D) of a list of tokens."""
        found = map(self._table.get, flat, itertools.repeat(_MISSING))
        indices = np.fromiter(found, np.int64, count=len(flat))
        missing = np.flatnonzero(indices == _MISSING)
        if len(missing):
            if self.num_oov_indices == 0:
                unknown = sorted({flat[i] for i in missing})
                raise ValueError(
                    f"{self._label()}: with num_oov_indices=0 every input "
                    f"must be in the vocabulary; set num_oov_indices=1 to map unknown tokens to "
                    f"an OOV index. Received unknown tokens: {unknown[:20]}"
                )
            if self.num_oov_indices == 1:
                indices[missing] = self._oov_start_index()
            else:
                buckets: dict = {}
                for i in missing:
                    token = flat[i]
                    if token not in buckets:
                        buckets[token] = self._oov_bucket(token)
                    indices[i] = buckets[token]
        return indices

    def _oov_bucket(self, token) -> int:
        n = self.num_oov_indices
        if self.integer_vocabulary and self.oov_method == "floormod":
            bucket = token % n
        elif self.salt is not None:
            bucket = siphash24(self.salt, self._hash_bytes(token)) % n
        else:
            bucket = fingerprint64(self._hash_bytes(token)) % n
        return self._oov_start_index() + bucket

    def encode(self, indices: np.ndarray) -> np.ndarray:
        """One-hot, multi-hot, count or TF-IDF vectors of `depth` entries from indices: a
        1-D array is one sample, a 2-D array one sample per row (one-hot: one vector per
        index, a trailing axis of size 1 dropped)."""
        depth = self._depth()
        if self.output_mode == "one_hot":
            return one_hot(indices, depth)
        if indices.ndim > 2:
            raise ValueError(
                f"{self._label()}: with output_mode={self.output_mode!r} "
                f"the inputs must have rank 1 or 2. Received: shape {indices.shape}"
            )
        rows = indices.reshape(1, -1) if indices.ndim == 1 else indices
        lengths = np.full(len(rows), rows.shape[1], np.int64)
        out = self.encode_rows(rows.reshape(-1), lengths, depth)
        return out[0] if indices.ndim == 1 else out

    def encode_rows(self, flat: np.ndarray, lengths: np.ndarray, depth: int) -> np.ndarray:
        """multi_hot / count / tf_idf vectors, one per row: row i holds the next
        `lengths[i]` indices of `flat`."""
        idf = self._idf[:depth] if self.output_mode == "tf_idf" else None
        return bag_encoding(flat, lengths, self.output_mode, depth, idf)

    def _inverted(self, inputs) -> np.ndarray:
        from .data_layer import as_int_array

        indices = as_int_array(self, inputs, "inputs (indices, as invert=True)")
        start, size = self._token_start_index(), self.vocabulary_size()
        out = [
            self._tokens[i - start] if start <= i < size else self.oov_token
            for i in indices.reshape(-1).tolist()
        ]
        if self.mask_token is not None:
            out = [self.mask_token if i == 0 else t for i, t in zip(indices.flat, out, strict=True)]
        dtype = np.int64 if self.integer_vocabulary else str
        return np.array(out, dtype=dtype).reshape(indices.shape)

    def output_spec(self, input_shape: tuple) -> tuple:
        if self.invert:
            return input_shape, ("int64" if self.integer_vocabulary else "string")
        if self.output_mode == "int":
            return input_shape, "int32"
        depth = self._depth()
        if depth is not None:
            self._width_in_use = depth
        dtype = engine_config.floatx() if self.output_mode == "tf_idf" else "int32"
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                input_shape = input_shape[:-1]
            return (*input_shape, depth), dtype
        if len(input_shape) > 2:
            raise ValueError(
                f"{self._label()}: with output_mode={self.output_mode!r} "
                f"the inputs must have rank 1 or 2. Received: shape {input_shape}"
            )
        return (*input_shape[:-1], depth), dtype

    # ---- saving ------------------------------------------------------------------------------

    def save_assets(self, dir_path: str) -> None:
        """Writes the vocabulary to `vocabulary.txt` in `dir_path` (as Keras' `.keras`
        files keep it), unless it was given as an argument (then the config holds it)."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(token) for token in self.get_vocabulary()))

    def load_assets(self, dir_path: str) -> None:
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        values = [int(v) for v in lines] if self.integer_vocabulary else lines
        if self.output_mode == "tf_idf":
            self.set_vocabulary(values, idf_weights=self._idf[: len(values)])
        else:
            self.set_vocabulary(values)

    def save_own_variables(self, store) -> None:
        if self.output_mode == "tf_idf":
            store["idf_weights"] = np.asarray(self._idf)

    def load_own_variables(self, store) -> None:
        if self.output_mode == "tf_idf":
            self._idf = np.asarray(store["idf_weights"], engine_config.floatx())

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": self.input_idf_weights,
            "vocabulary": self.input_vocabulary,
            "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method,
            "salt": self.salt,
        }
