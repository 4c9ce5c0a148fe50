"""Embedding: the harness, its table and mask, float indices, the bad-index errors (eager,
fit and predict), LoRA, and a compiled step whose gradient is a scatter-add into the
gradient's own buffer (no dense (batch*steps, input_dim) temporary)."""

import doctest
import json
import tracemalloc

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.layers import embedding as embedding_module
from kerasish.testing import run_layer_test

rng = np.random.default_rng(3)


def test_layer_harness():
    run_layer_test(
        layers.Embedding,
        {"input_dim": 6, "output_dim": 4},
        input_shape=(3, 5),
        expected_output_shape=(3, 5, 4),
        expected_num_trainable_weights=1,
        input_dtype="int32",
    )
    run_layer_test(
        layers.Embedding,
        {"input_dim": 6, "output_dim": 2, "mask_zero": True, "embeddings_regularizer": "l2"},
        input_shape=(2, 3, 4),
        expected_output_shape=(2, 3, 4, 2),
        expected_num_trainable_weights=1,
        input_dtype="int64",
    )


def test_lookup_is_rows_of_the_table_and_the_mask_is_nonzero():
    layer = layers.Embedding(7, 3, mask_zero=True)
    x = np.array([[4, 0, 6], [1, 1, 0]])
    out = layer(x)
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(out.numpy(), table[x])
    assert layer.weights[0].path == layer.name + "/embeddings"
    assert out._mask.numpy().tolist() == [[True, False, True], [True, True, False]]
    assert layers.Embedding(7, 3)(x)._mask is None  # no mask_zero, no mask
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)


def test_uniform_initializer_and_weights_argument():
    table = layers.Embedding(1000, 8)
    table.build()
    values = table.embeddings.numpy()
    assert np.abs(values).max() <= 0.05 and values.std() > 0.02  # Keras' "uniform": +-0.05
    given = rng.standard_normal((4, 2)).astype(np.float32)
    layer = layers.Embedding(4, 2, weights=given)
    np.testing.assert_array_equal(layer(np.array([3, 1])).numpy(), given[[3, 1]])
    np.testing.assert_array_equal(layers.Embedding(4, 2, weights=[given]).get_weights()[0], given)


def test_float_inputs_holding_whole_numbers_are_indices():
    layer = layers.Embedding(5, 2, weights=np.arange(10, dtype=np.float32).reshape(5, 2))
    out = layer(np.array([[4.0, 0.0]], np.float64))  # not rounded to float32 on the way
    assert out.numpy().tolist() == [[[8.0, 9.0], [0.0, 1.0]]]
    model = keras.Sequential([keras.Input((3,)), layer])  # Input is float32 by default
    np.testing.assert_array_equal(model.predict(np.array([[1, 2, 3]]), verbose=0)[0, :, 0],
                                  [2.0, 4.0, 6.0])  # fmt: skip


@pytest.mark.parametrize(
    "bad, detail",
    [(9, "index 9"), (-1, "index -1"), (2.5, "non-integral value 2.5")],
)
def test_bad_indices_raise_eagerly_and_compiled(bad, detail):
    message = rf"Embedding layer 'words': .*\[0, input_dim\) = \[0, 6\).*{detail}"
    x = np.array([[1.0, bad, 0.0], [2.0, 3.0, 5.0]], np.float32)
    layer = layers.Embedding(6, 2, name="words")
    with pytest.raises(ValueError, match=message):
        layer(x)
    model = keras.Sequential([keras.Input((3,)), layer, layers.GlobalAveragePooling1D()])
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match=message + ".*range from"):
        model.fit(x, np.zeros((2, 2)), verbose=0)
    with pytest.raises(ValueError, match=message):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match=message):
        model(x)  # the inference Plan
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the failed step changed no weight
    ok = np.array([[1, 2, 0], [2, 3, 5]])
    model.fit(ok, np.zeros((2, 2)), verbose=0)  # the same Plans work on good data


def test_bad_arguments():
    bad = [
        ({"input_dim": 0, "output_dim": 2}, "input_dim"),
        ({"input_dim": 3, "output_dim": 2.0}, "output_dim"),
        ({"input_dim": 3, "output_dim": 2, "lora_rank": -1}, "lora_rank"),
    ]
    for kwargs, name in bad:
        with pytest.raises(ValueError, match=f"`{name}` must be a positive integer"):
            layers.Embedding(**kwargs)
    with pytest.raises(ValueError, match="quantized embeddings are not supported"):
        layers.Embedding(3, 2, quantization_config={"mode": "int8"})
    with pytest.raises(TypeError, match="expects integer indices"):
        layers.Embedding(3, 2)(np.array([True, False]))


def test_config_round_trip_reads_keras_configs():
    layer = layers.Embedding(10, 3, mask_zero=True, embeddings_constraint="non_neg", name="e")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert layers.Embedding.from_config(config).get_config() == config
    keras_config = {**config, "quantization_config": None, "input_length": 4,
                    "dtype": {"module": "keras", "class_name": "DTypePolicy",
                              "config": {"name": "float32"}, "registered_name": None}}  # fmt: skip
    assert layers.Embedding.from_config(keras_config).mask_zero


def test_lora_trains_the_low_rank_update_only():
    layer = layers.Embedding(6, 4, lora_rank=2, lora_alpha=4)
    layer.build()
    assert [w.name for w in layer.weights] == ["embeddings", "lora_embeddings_a",
                                               "lora_embeddings_b"]  # fmt: skip
    assert [w.name for w in layer.trainable_weights] == ["lora_embeddings_a", "lora_embeddings_b"]
    x = np.array([[1, 5]])
    table = layer._embeddings.numpy()
    np.testing.assert_array_equal(layer(x).numpy(), table[x])  # b starts at zero
    b = rng.standard_normal((2, 4)).astype(np.float32)
    layer.lora_embeddings_b.assign(b)
    a = layer.lora_embeddings_a.numpy()
    np.testing.assert_allclose(layer(x).numpy(), (table + 2.0 * a @ b)[x], rtol=1e-5)
    assert layer.get_config()["lora_rank"] == 2
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    with pytest.raises(ValueError, match="embeddings_constraint"):
        layers.Embedding(3, 2, embeddings_constraint="non_neg", lora_rank=1).build()


def test_compiled_step_scatters_the_gradient_without_dense_temporaries():
    batch, steps, vocab, width = 32, 50, 20000, 16
    model = keras.Sequential([keras.Input((steps,), dtype="int32"),
                              layers.Embedding(vocab, width), layers.Dense(1)])  # fmt: skip
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = rng.integers(0, vocab, (batch, steps)).astype(np.int32)
    y = rng.standard_normal((batch, steps, 1)).astype(np.float32)
    before = model.layers[0].get_weights()[0]
    model.train_on_batch(x, y)  # traces and compiles
    (step,) = [f for (kind, _), f in model._step_fns.items() if kind == "train"]
    (plan,) = [plan for plan, _ in step._plans.values()]
    assert "scatter_add" in plan.describe() and "take" in plan.describe()
    tracemalloc.start()
    model.train_on_batch(x, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    table_bytes = vocab * width * 4
    # A dense (batch*steps, vocab) temporary would be 128 MB; even the table-sized gradient
    # (1.3 MB) lives in the Plan's own buffer, so a step allocates far less than either.
    assert peak < table_bytes / 4, peak
    changed = np.flatnonzero((model.layers[0].get_weights()[0] != before).any(axis=1))
    np.testing.assert_array_equal(changed, np.unique(x))  # only the rows looked up moved


def test_doc_examples():
    result = doctest.testmod(embedding_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
