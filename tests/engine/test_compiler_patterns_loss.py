"""A loss with its gradient (`backend/compiler/patterns_loss.py`): in a training step the
sparse softmax crossentropy and its logits gradient run as one call when the gradient's seed
is known by the time the loss is computed, with the numbers of the two apart; otherwise they
stay two steps."""

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, ops
from backend.compiler import patterns_loss

rng = np.random.default_rng(0)
PAIRED = "sparse_categorical_crossentropy+grad"


START = rng.standard_normal((6, 4)).astype("float32")


def _step(squared=False):
    kernel = Variable(START.copy())

    def step(x, labels):
        with GradientTape() as tape:
            logits = ops.matmul(x, kernel)
            per_sample = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = ops.mean(per_sample)
            if squared:  # the gradient's seed now depends on the loss's value
                loss = ops.square(loss)
        (grad,) = tape.gradient(loss, [kernel])
        kernel.assign_sub(ops.multiply(grad, 0.5))
        return loss

    return step, kernel


def _batch(n=9):
    x = rng.standard_normal((n, 6)).astype("float32")
    return x, rng.integers(0, 4, n).astype("int32")


def _run(step, kernel, x, labels, runs=3):
    f = compiler.function(step)
    losses = [f(x, labels) for _ in range(runs)]
    return f, losses, kernel.numpy()


def test_runs_as_one_call_with_the_numbers_of_the_two_apart(monkeypatch):
    x, labels = _batch()
    f, losses, weights = _run(*_step(), x, labels)
    names = f.plan_for(x, labels).describe()
    assert PAIRED in names and "sparse_categorical_crossentropy_grad" not in names, names

    monkeypatch.setattr(patterns_loss, "losses_with_gradients", lambda *args: [])
    g, apart_losses, apart_weights = _run(*_step(), x, labels)
    assert PAIRED not in g.plan_for(x, labels).describe()
    np.testing.assert_array_equal(losses, apart_losses)
    np.testing.assert_array_equal(weights, apart_weights)
    assert losses[1] < losses[0]  # the steps train


def test_stays_two_steps_when_the_seed_depends_on_the_loss():
    step, kernel = _step(squared=True)
    x, labels = _batch()
    f, losses, weights = _run(step, kernel, x, labels, runs=1)
    names = f.plan_for(x, labels).describe()
    assert PAIRED not in names and "sparse_categorical_crossentropy_grad" in names, names
    # The same step run eagerly from the same kernel.
    kernel.assign(START)
    eager_loss = step(ops.convert_to_tensor(x), ops.convert_to_tensor(labels)).numpy()
    np.testing.assert_allclose(losses[0], eager_loss, rtol=1e-6)
    np.testing.assert_allclose(weights, kernel.numpy(), rtol=1e-5, atol=1e-6)


def test_a_label_out_of_range_raises_a_value_error_naming_it():
    x, labels = _batch()
    f = compiler.function(_step()[0])
    f(x, labels)
    labels[4] = 7
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\).*label 7 at index \(4,\)"):
        f(x, labels)
