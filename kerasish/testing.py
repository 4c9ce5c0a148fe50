"""The layer test harness: one call checks a layer's shapes, weights, a training step
(eager and compiled) and its `get_config`/`from_config` round trip through JSON."""

from __future__ import annotations

import json

import numpy as np

from backend import GradientTape, compiler, ops
from backend.tensor import SymbolicTensor


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    input_shape: tuple,
    expected_output_shape: tuple,
    expected_num_trainable_weights: int = 0,
    expected_num_non_trainable_weights: int = 0,
    input_dtype: str = "float32",
    run_training_check: bool = True,
    call_kwargs: dict | None = None,
    seed: int = 0,
    positional_inputs: bool = False,
) -> None:
    """Checks `layer_cls(**init_kwargs)` on inputs of `input_shape` (batch first). A list of
    shapes makes a list of inputs, passed as the layer's first argument (`Attention`), or as
    its positional arguments with `positional_inputs` (`MultiHeadAttention(query, value)`)."""
    rng = np.random.default_rng(seed)
    call_kwargs = call_kwargs or {}
    several = isinstance(input_shape, list)

    def make(shape):
        if input_dtype.startswith("int"):
            return rng.integers(0, 5, shape).astype(input_dtype)
        return rng.standard_normal(shape).astype(input_dtype)

    x = [make(s) for s in input_shape] if several else make(input_shape)

    def call(target, data, **kwargs):
        if several and positional_inputs:
            return target(*data, **kwargs)
        return target(data, **kwargs)

    layer = layer_cls(**init_kwargs)
    out = call(layer, x, **call_kwargs)
    assert tuple(out.shape) == tuple(expected_output_shape), (
        f"output shape {tuple(out.shape)} != expected {tuple(expected_output_shape)}"
    )
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

    # Symbolic call with an unknown batch dim agrees with the eager one.
    symbolic_layer = layer_cls(**init_kwargs)
    shapes = input_shape if several else [input_shape]
    placeholders = [SymbolicTensor((None, *s[1:]), input_dtype) for s in shapes]
    sym = call(symbolic_layer, placeholders if several else placeholders[0], **call_kwargs)
    assert tuple(sym.shape) == (None, *tuple(expected_output_shape)[1:]), sym.shape

    # Config round trip through JSON; the rebuilt layer computes the same with the same weights.
    config = layer.get_config()
    restored = layer_cls.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config, (restored.get_config(), config)
    call(restored, x, **call_kwargs)
    restored.set_weights(layer.get_weights())
    if "training" not in call_kwargs or not call_kwargs["training"]:
        np.testing.assert_allclose(
            ops.convert_to_numpy(call(restored, x, **call_kwargs)),
            ops.convert_to_numpy(out),
            rtol=1e-6,
        )

    if not run_training_check or not layer.trainable_weights:
        return
    # One SGD step eagerly and one compiled, from the same weights: same loss, same update.
    start = layer.get_weights()

    def step(*data):
        with GradientTape() as tape:
            loss = ops.mean(ops.square(call(layer, list(data) if several else data[0],
                                            training=True, **call_kwargs)))  # fmt: skip
        grads = tape.gradient(loss, layer.trainable_weights)
        for w, g in zip(layer.trainable_weights, grads, strict=True):
            assert g is not None, f"no gradient for {w.path}"
            w.assign_sub(0.1 * g)
        return loss

    arrays = x if several else [x]
    eager_loss = float(step(*arrays))
    eager_weights = layer.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(start, eager_weights, strict=True)), (
        "a training step changed no weight"
    )
    layer.set_weights(start)
    compiled_loss = float(compiler.function(step)(*arrays))
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-5)
    for a, b in zip(layer.get_weights(), eager_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
