"""Masking, and how masks travel: which layers pass a mask on, consume it or drop it (as
Keras 3's source says), through functional and Sequential models and compiled Plans, into
the losses and metrics."""

import doctest
import warnings

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops
from kerasish.layers import masking as masking_module
from kerasish.testing import run_layer_test

rng = np.random.default_rng(5)
TOKENS = np.array([[3, 1, 0, 0], [2, 0, 0, 0], [4, 5, 6, 0]])
KEEP = TOKENS != 0


def _embedded(width=3):
    return layers.Embedding(8, width, mask_zero=True)(TOKENS)


def test_masking_harness():
    run_layer_test(layers.Masking, {"mask_value": 0.5}, input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 4))  # fmt: skip


def test_masking_zeroes_the_masked_steps_and_marks_them():
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 1] = 7.0  # every feature equal to mask_value: masked
    x[1, 2, 0] = 7.0  # one feature only: kept
    x[1, 3] = 7.0
    out = layers.Masking(mask_value=7.0)(x)
    keep = np.array([[True, False, True, True], [True, True, True, False]])
    assert out._mask.numpy().tolist() == keep.tolist()
    np.testing.assert_array_equal(out.numpy(), np.where(keep[..., None], x, 0.0))
    assert layers.Masking(2).get_config()["mask_value"] == 2
    with pytest.raises(ValueError, match="`mask_value` must be a number"):
        layers.Masking("x")


# Keras 3.15's source: a layer passes a mask on when it supports masking with the default
# compute_mask; GlobalAveragePooling1D consumes it; the layers without masking support drop it.
PASS_ON = [
    layers.Dense(2), layers.Dropout(0.5), layers.Activation("relu"), layers.ReLU(),
    layers.LeakyReLU(), layers.ELU(), layers.PReLU(), layers.BatchNormalization(),
    layers.GroupNormalization(groups=1), layers.SpatialDropout1D(0.5), layers.GaussianNoise(0.1),
    layers.GaussianDropout(0.1), layers.ActivityRegularization(), layers.Identity(),
    layers.Rescaling(2.0), layers.Normalization(mean=1.0, variance=4.0),
    layers.Lambda(lambda t: t * 2, mask=lambda x, m: m),
]  # fmt: skip
DROP = [
    layers.Flatten(), layers.Conv1D(2, 2), layers.Reshape((12,)), layers.Permute((2, 1)),
    layers.MaxPooling1D(2), layers.AveragePooling1D(2), layers.GlobalMaxPooling1D(),
    layers.ZeroPadding1D(1), layers.Cropping1D(1), layers.UpSampling1D(2),
    layers.Lambda(lambda t: t * 2),
]  # fmt: skip


def _symbolic_embedded():
    """A masked (batch, 4, 3) sequence in a functional graph: calls on it only infer shapes
    (the rules are the same as on values, without computing or compiling anything)."""
    return layers.Embedding(8, 3, mask_zero=True)(keras.Input((4,)))


@pytest.mark.parametrize("layer", PASS_ON, ids=lambda layer: type(layer).__name__)
def test_layers_that_pass_the_mask_on(layer):
    x = _symbolic_embedded()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # passing a mask on is silent
        out = layer(x)
    assert out._mask is x._mask


def test_passing_on_keeps_the_mask_values():
    out = layers.Activation("relu")(layers.Dense(2)(_embedded()))
    assert out._mask.numpy().tolist() == KEEP.tolist()


@pytest.mark.parametrize("layer", DROP, ids=lambda layer: type(layer).__name__)
def test_layers_that_drop_the_mask_warn_once(layer):
    with pytest.warns(UserWarning, match="does not support masking"):
        out = layer(_symbolic_embedded())
    assert out._mask is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(_symbolic_embedded())  # once per layer


def test_repeat_vector_drops_a_mask_too():
    masked = layers.Masking()(np.array([[1.0, 0.0], [0.0, 0.0]], np.float32))
    assert masked._mask.numpy().tolist() == [True, False]
    with pytest.warns(UserWarning, match="does not support masking"):
        assert layers.RepeatVector(2)(masked)._mask is None


def test_global_average_pooling_1d_averages_the_kept_steps_only():
    x = _embedded()
    x.numpy()[~KEEP] = np.inf  # a masked step never leaks in, whatever it holds
    out = layers.GlobalAveragePooling1D()(x)
    assert out._mask is None
    expected = [x.numpy()[i][KEEP[i]].mean(0) for i in range(3)]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    out = layers.GlobalAveragePooling1D(keepdims=True)(x)
    np.testing.assert_allclose(out.numpy()[:, 0], expected, rtol=1e-6)


def test_global_max_pooling_1d_ignores_the_mask_as_keras():
    x = _embedded()
    with pytest.warns(UserWarning):
        out = layers.GlobalMaxPooling1D()(x)
    np.testing.assert_array_equal(out.numpy(), x.numpy().max(1))


def test_merge_masks():
    a, b = _embedded(), layers.Embedding(8, 3, mask_zero=True)(TOKENS[::-1])
    plain = np.ones((3, 4, 3), np.float32)
    for merge in (layers.add, layers.subtract, layers.multiply, layers.maximum):
        assert merge([a, b])._mask.numpy().tolist() == (KEEP | KEEP[::-1]).tolist()
        assert merge([a, plain])._mask is None  # an unmasked input: no mask (as Keras)
    assert layers.dot([a, b], axes=2)._mask is None
    # Concatenate: an unmasked input counts as all kept; masks widened, joined, any(-1).
    joined = layers.concatenate([a, plain], axis=1)._mask.numpy()
    np.testing.assert_array_equal(joined, np.concatenate([KEEP, np.ones((3, 4), bool)], 1))
    assert layers.concatenate([a, plain])._mask.numpy().all()
    np.testing.assert_array_equal(layers.concatenate([a, b])._mask.numpy(), KEEP | KEEP[::-1])


class _Reads(keras.Layer):
    """Records the masks its call receives."""

    def call(self, query, value, query_mask=None, value_mask=None):
        self.seen = (query_mask, value_mask)
        return ops.multiply(query, 2.0)


def test_call_arguments_named_x_mask_receive_each_arguments_mask():
    query, value = _embedded(), layers.Embedding(8, 3, mask_zero=True)(TOKENS[::-1])
    reads = _Reads()
    with pytest.warns(UserWarning, match="does not support masking"):
        out = reads(query, value)  # no compute_mask of its own: the mask stops here
    assert reads.seen[0].numpy().tolist() == KEEP.tolist()
    assert reads.seen[1].numpy().tolist() == KEEP[::-1].tolist()
    given = np.ones((3, 4), bool)
    reads(query, value, value_mask=given)
    assert reads.seen[1] is given  # what the caller passes wins
    assert out._mask is None


def _masked_model(sequential: bool, dropout: bool = True):
    stack = [layers.Embedding(8, 4, mask_zero=True), layers.Dense(5),
             layers.Dropout(0.3 if dropout else 0.0), layers.Dense(3)]  # fmt: skip
    if sequential:
        return keras.Sequential([keras.Input((4,)), *stack])
    inputs = keras.Input((4,))
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("sequential", [False, True])
def test_masks_travel_through_models_and_their_plans(sequential):
    model = _masked_model(sequential)
    assert model.outputs[0]._mask is not None  # symbolic, recorded with the graph
    x = TOKENS.astype(np.float32)
    eager = model(ops.convert_to_tensor(x), training=False)  # layer by layer
    planned = model(x)  # the inference Plan computes the mask with the outputs
    for out in (eager, planned):
        assert out._mask.numpy().tolist() == KEEP.tolist()
    np.testing.assert_allclose(planned.numpy(), eager.numpy(), rtol=1e-6)
    outer_in = keras.Input((4,))
    outer = keras.Model(outer_in, layers.GlobalAveragePooling1D()(model(outer_in)))
    steps = model(x).numpy()
    expected = [steps[i][KEEP[i]].mean(0) for i in range(3)]  # the nested model's mask used
    np.testing.assert_allclose(outer(x).numpy(), expected, rtol=1e-5)
    clone = keras.Model.from_config(outer.get_config())  # masks are not part of the config
    clone.set_weights(outer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), expected, rtol=1e-5)


def _masked_xent(logits, labels, keep, weights=None):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    per = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    w = keep * (1.0 if weights is None else weights)
    return (per * w).sum() / keep.sum()


def test_the_compiled_loss_and_metrics_weigh_masked_steps_by_zero():
    model = _masked_model(sequential=True)
    labels = rng.integers(0, 3, (3, 4))
    logits = model.predict(TOKENS, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("sgd", loss, metrics=["accuracy"])
    result = model.evaluate(TOKENS, labels, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], _masked_xent(logits, labels, KEEP), rtol=1e-5)
    correct = logits.argmax(-1) == labels
    np.testing.assert_allclose(result["accuracy"], correct[KEEP].mean(), rtol=1e-6)
    # (batch,) sample weights weigh whole samples, over the kept steps only.
    sw = np.array([1.0, 3.0, 0.5], np.float32)
    result = model.evaluate(TOKENS, labels, sample_weight=sw, verbose=0, return_dict=True)
    expected = _masked_xent(logits, labels, KEEP, sw[:, None])
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)
    # The standalone loss reads the mask model(x) carries; "sum" adds the kept steps only.
    standalone = loss(labels, model(TOKENS.astype(np.float32)))
    np.testing.assert_allclose(float(standalone), _masked_xent(logits, labels, KEEP), rtol=1e-5)
    summed = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    expected_sum = _masked_xent(logits, labels, KEEP) * KEEP.sum()
    np.testing.assert_allclose(float(summed(labels, model(TOKENS))), expected_sum, rtol=1e-5)


def test_a_metric_reads_the_mask_of_y_pred():
    y_pred = ops.convert_to_tensor(rng.standard_normal((3, 4, 2)).astype(np.float32))
    y_true = rng.standard_normal((3, 4, 2)).astype(np.float32)
    y_pred._mask = ops.convert_to_tensor(KEEP)
    metric = keras.metrics.MeanSquaredError()
    metric.update_state(y_true, y_pred)
    per_step = ((y_true - y_pred.numpy()) ** 2).mean(-1)
    np.testing.assert_allclose(float(metric.result()), per_step[KEEP].mean(), rtol=1e-6)


def test_fit_on_padded_sequences_ignores_the_padding():
    # Changing what the padded steps are labelled must change nothing.
    labels = rng.integers(0, 3, (3, 4))
    relabelled = np.where(KEEP, labels, (labels + 1) % 3)
    results = []
    for y in (labels, relabelled):
        keras.utils.set_random_seed(0)
        model = _masked_model(sequential=False, dropout=False)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])  # fmt: skip
        history = model.fit(TOKENS, y, epochs=2, batch_size=2, shuffle=False, verbose=0)
        results.append((history.history, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_doc_examples():
    result = doctest.testmod(masking_module)
    assert result.failed == 0 and result.attempted > 0
