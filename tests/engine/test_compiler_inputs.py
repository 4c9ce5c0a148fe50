"""Arguments a Plan reads in place: an input that only products read is not copied into the
Plan's buffer; the numbers are the same, and the Plan keeps no reference to the caller's
array after the run, whether the run ends, raises, is profiled or NaN-checked."""

import gc
import weakref

import numpy as np
import pytest

import kerasish as keras
from backend import compiler, config, ops
from kerasish import layers

rng = np.random.default_rng(11)


def _predict_plan(first_layer=None):
    keras.utils.set_random_seed(4)
    stack = [first_layer] if first_layer is not None else []
    model = keras.Sequential([keras.Input((12,)), *stack, layers.Dense(16, activation="relu"),
                              layers.Dense(3)])  # fmt: skip
    x = rng.standard_normal((8, 12)).astype(np.float32)
    model.predict(x, batch_size=8, verbose=0)
    (fn,) = [f for key, f in model._step_fns.items() if key[0] == "predict"]
    ((plan, _),) = fn._plans.values()
    return model, plan, x


def test_an_input_only_products_read_is_read_in_place_with_the_same_numbers():
    model, plan, x = _predict_plan()
    (slot,) = plan.input_slots
    own = plan.borrowable[slot]
    assert own is plan.arrays[slot]
    own.fill(np.nan)  # a run that copied x in would overwrite these
    (borrowed,) = plan.run([x])
    assert np.isfinite(own).sum() == 0  # the buffer was not written: x was read where it is
    assert plan.arrays[slot] is own  # and the buffer is back in place
    # Arguments that cannot stand in for the buffer are copied, with the same bits.
    (copied,) = plan.run([np.asfortranarray(x)])
    (cast,) = plan.run([x.astype(np.float64)])
    np.testing.assert_array_equal(borrowed, copied)
    np.testing.assert_array_equal(borrowed, cast)
    expected = np.maximum(x @ model.layers[0].kernel.numpy() + model.layers[0].bias.numpy(), 0)
    expected = expected @ model.layers[1].kernel.numpy() + model.layers[1].bias.numpy()
    np.testing.assert_allclose(borrowed, expected, rtol=1e-5, atol=1e-6)


def test_the_plan_keeps_no_reference_to_the_callers_array():
    _, plan, x = _predict_plan()
    arg = x.copy()
    gone = weakref.ref(arg)
    plan.run([arg])
    del arg
    gc.collect()
    assert gone() is None


def test_a_step_that_raises_still_puts_the_input_buffer_back():
    _, plan, x = _predict_plan()
    (slot,) = plan.input_slots
    own = plan.borrowable[slot]
    step = plan.steps[-1]
    original = step.run

    def fail(*arrays):
        raise RuntimeError("a step failed")

    step.run = fail
    try:
        with pytest.raises(RuntimeError, match="a step failed"):
            plan.run([x])
    finally:
        step.run = original
    assert plan.arrays[slot] is own
    np.testing.assert_array_equal(plan.run([x])[0], plan.run([np.asfortranarray(x)])[0])


@pytest.mark.parametrize("mode", ["profiled", "nan-checked"])
def test_profiled_and_nan_checked_runs_put_the_input_buffer_back(mode):
    _, plan, x = _predict_plan()
    (slot,) = plan.input_slots
    own = plan.borrowable[slot]
    expected = plan.run([np.asfortranarray(x)])[0]
    if mode == "profiled":
        with keras.utils.profile():
            (out,) = plan.run([x])
    else:
        config.enable_nan_checks()
        try:
            (out,) = plan.run([x])
        finally:
            config.disable_nan_checks()
    assert plan.arrays[slot] is own
    np.testing.assert_array_equal(out, expected)


def test_inputs_read_by_other_steps_or_through_views_are_copied():
    # An elementwise step reads the input: copied.
    _, plan, _ = _predict_plan(layers.Rescaling(0.5))
    assert plan.borrowable == {}
    # A training step reads the input through a transposed view (the kernel's gradient).
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((12,)), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.standard_normal((8, 12)).astype(np.float32), np.zeros((8, 3), np.float32),
              batch_size=8, epochs=1, verbose=0)  # fmt: skip
    (fn,) = [f for key, f in model._step_fns.items() if key[0] == "train"]
    ((plan, _),) = fn._plans.values()
    assert plan.borrowable == {}


def test_an_input_that_is_also_an_output_is_copied():
    f = compiler.function(lambda a, b: (a, ops.matmul(a, b)))
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    plan = f.plan_for(a, b)
    assert plan.input_slots[0] not in plan.borrowable
    assert plan.input_slots[1] in plan.borrowable
    same, product = f(a, b)
    assert same is not a
    np.testing.assert_array_equal(np.asarray(same), a)
    np.testing.assert_allclose(np.asarray(product), a @ b, rtol=1e-6)
