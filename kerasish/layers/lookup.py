"""StringLookup and IntegerLookup: vocabularies of strings or integers mapped to indices
(or back, with `invert=True`), computed with numpy before a model's traced part."""

from __future__ import annotations

import numpy as np

from .data_layer import as_int_array, as_string_array
from .index_lookup import IndexLookup


class StringLookup(IndexLookup):
    """Maps strings to integer indices from a vocabulary (given, or learned by `adapt`).

    Index layout, as Keras: the mask token (if `mask_token` is set, in `"int"` mode) at 0,
    then `num_oov_indices` indices for out-of-vocabulary strings, then the vocabulary, most
    frequent first. `output_mode` `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"` encodes
    the indices instead; `invert=True` maps indices back to strings.

    Example:
        >>> import kerasish as keras
        >>> layer = keras.layers.StringLookup()
        >>> layer.adapt(["pear", "fig", "pear", "kiwi", "fig", "pear"])
        >>> layer.get_vocabulary()
        ['[UNK]', 'pear', 'fig', 'kiwi']
        >>> layer(["fig", "plum", "pear"]).numpy().tolist()
        [2, 0, 1]
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        name=None,
        salt=None,
        **kwargs,
    ):
        self.encoding = encoding
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens,
            sparse=sparse,
            name=name,
            salt=salt,
            **kwargs,
        )

    def _keys(self, data, what: str) -> np.ndarray:
        return as_string_array(self, data, what, self.encoding)

    def _hash_bytes(self, token) -> bytes:
        return token.encode("utf-8")

    @property
    def input_dtype(self) -> str:
        return "int64" if self.invert else "string"

    def get_config(self) -> dict:
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Maps integers (ids) to contiguous indices from a vocabulary (given, or learned by
    `adapt`), with StringLookup's layout and output modes; `oov_token` is -1 by default.

    With several OOV indices an unknown id goes to OOV index `id % num_oov_indices`
    (`oov_method="floormod"`) or by FarmHash of its decimal text (`"farmhash"`).

    Example:
        >>> import kerasish as keras
        >>> layer = keras.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer([12, 1138, 42, 42, 1000]).numpy().tolist()
        [1, 3, 4, 4, 0]
    """

    integer_vocabulary = True
    input_dtype = "int64"

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        salt=None,
        name=None,
        **kwargs,
    ):
        if vocabulary_dtype != "int64":
            raise ValueError(
                "IntegerLookup: only vocabulary_dtype='int64' is supported (as Keras). "
                f"Received: vocabulary_dtype={vocabulary_dtype!r}"
            )
        for arg, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, np.integer))
            ):
                raise ValueError(
                    f"IntegerLookup: `{arg}` must be an integer or None. Received: {arg}={value!r}"
                )
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=None if mask_token is None else int(mask_token),
            oov_token=None if oov_token is None else int(oov_token),
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            sparse=sparse,
            pad_to_max_tokens=pad_to_max_tokens,
            oov_method=oov_method,
            salt=salt,
            name=name,
            **kwargs,
        )

    def _keys(self, data, what: str) -> np.ndarray:
        return as_int_array(self, data, what)

    def _hash_bytes(self, token) -> bytes:
        return str(token).encode("ascii")  # TensorFlow hashes an integer's decimal text

    def get_config(self) -> dict:
        config = super().get_config()
        config["vocabulary_dtype"] = "int64"
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
