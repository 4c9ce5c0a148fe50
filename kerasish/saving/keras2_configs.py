"""Keras 2 layer configs in Keras 3's terms.

tf.keras 2 wrote keys Keras 3 dropped or renamed; files from it are the most common Keras
files in the wild, so every layer config passes through `upgrade` before `from_config`:

- dropped, with their Keras 2 defaults accepted: `time_major` (False), `input_length`
  (Embedding), `groups` on Conv2DTranspose and DepthwiseConv2D (1), BatchNormalization's
  `fused`, `virtual_batch_size` and `adjustment` (unused), MultiHeadAttention's
  recorded `query_shape`/`key_shape`/`value_shape`;
- `batch_input_shape` on a layer that is not an InputLayer (Keras 2 put the model's input
  shape on its first layer; `Sequential`'s loader makes the Input from it first);
- renamed: LeakyReLU's `alpha` is `negative_slope`;
- InputLayer's `ragged` and (Keras 3's) `optional`, accepted when False; Keras 3's
  `quantization_config` and LoRA settings, accepted when None; RandomContrast's
  `data_format` when channels_last;
- reshaped: BatchNormalization's `axis` as a one-element list is the int.

A value Keras 3 cannot express (`time_major=True`, a grouped transposed convolution) is a
ValueError naming the layer and the key.
"""

from __future__ import annotations

_FIRST_LAYER_KEYS = ("batch_input_shape", "batch_size")
_BATCH_NORM_UNUSED = {"fused": None, "virtual_batch_size": None, "adjustment": None}


def _drop_default(class_name: str, config: dict, key: str, defaults: tuple) -> None:
    if key not in config:
        return
    value = config.pop(key)
    if value not in defaults:
        raise ValueError(
            f"{class_name}: the Keras 2 setting {key}={value!r} has no Keras 3 equivalent, so "
            "this layer cannot be loaded."
        )


def upgrade(class_name: str, config: dict) -> dict:
    """`config` (a copy the caller owns) with Keras 2's forms replaced by Keras 3's."""
    if class_name != "InputLayer":
        for key in _FIRST_LAYER_KEYS:
            config.pop(key, None)
    _drop_default(class_name, config, "time_major", (False, None))
    for key in ("quantization_config", "lora_rank", "lora_alpha"):  # Keras 3, when unused
        _drop_default(class_name, config, key, (None,))
    if class_name == "InputLayer":  # ragged and optional inputs do not exist here
        _drop_default(class_name, config, "ragged", (False, None))
        _drop_default(class_name, config, "optional", (False, None))
    if class_name == "Embedding":
        config.pop("input_length", None)
    if class_name in ("Conv2DTranspose", "Conv1DTranspose", "DepthwiseConv2D"):
        _drop_default(class_name, config, "groups", (1, None))
    if class_name == "LeakyReLU" and "alpha" in config:
        config.setdefault("negative_slope", config.pop("alpha"))
    if class_name == "BatchNormalization":
        axis = config.get("axis")
        if isinstance(axis, list) and len(axis) == 1:
            config["axis"] = axis[0]
        for key, default in _BATCH_NORM_UNUSED.items():
            _drop_default(class_name, config, key, (default, False, None))
    if class_name == "RandomContrast":  # Keras 3.15 writes it; the layer is per channel
        _drop_default(class_name, config, "data_format", ("channels_last", None))
    if class_name == "MultiHeadAttention":
        for key in ("query_shape", "key_shape", "value_shape"):
            config.pop(key, None)
    return config
