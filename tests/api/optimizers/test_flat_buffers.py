"""Optimizers over flat buffers: in a compiled step the Variables an optimizer updates are
views into one float32 buffer and the update is one step of the Plan, with the numbers,
names, order and eager semantics of the per-variable update."""

import numpy as np
import pytest

import kerasish as keras
from backend import Variable, compiler, ops
from backend.flat import FlatVariable
from kerasish import layers, optimizers

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 6)).astype("float32")
Y = rng.integers(0, 3, 40)

CATALOGUE = [
    lambda: optimizers.SGD(0.1),
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: optimizers.Adam(amsgrad=True),
    lambda: optimizers.AdamW(weight_decay=0.1),
    lambda: optimizers.RMSprop(centered=True, momentum=0.5),
    lambda: optimizers.Adagrad(),
    lambda: optimizers.Adadelta(learning_rate=1.0),
    lambda: optimizers.Adamax(),
    lambda: optimizers.Nadam(),
    lambda: optimizers.Lion(),
]


def _model(optimizer, seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="relu"),
                              layers.Dense(3)])  # fmt: skip
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def _train_plan(model):
    (fn,) = [f for key, f in model._step_fns.items() if key[0] == "train"]
    return next(iter(fn._plans.values()))[0]


@pytest.mark.parametrize("make", CATALOGUE, ids=lambda m: type(m()).__name__)
def test_the_update_is_one_step_over_the_flat_buffer_with_per_variable_numbers(make):
    model = _model(make())
    model.fit(X, Y, batch_size=20, epochs=1, verbose=0, shuffle=False)
    plan = _train_plan(model)
    params = sum(w.size for w in model.trainable_weights)
    writes_params = [
        s for s in plan.steps
        if s.phase == "optimizer" and any(plan.slots[o].shape == (params,) for o in s.outputs)
    ]  # fmt: skip
    assert len(writes_params) == 1, plan.describe()
    # Every other optimizer step works on scalars (beta**t, the learning rate, the counter).
    others = [s for s in plan.steps if s.phase == "optimizer" and s not in writes_params]
    assert all(all(plan.slots[o].shape == () for o in s.outputs) for s in others)
    state = model.optimizer._flat_state
    for w in model.trainable_weights:
        assert w._flat is state.params and np.shares_memory(w._value, state.params.array)

    # The same training, one update per Variable (the eager optimizer), from the same start.
    reference = _model(make())
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    reference.compile(optimizer=make(), run_eagerly=True, loss=loss)
    reference.fit(X, Y, batch_size=20, epochs=1, verbose=0, shuffle=False)
    assert reference.optimizer._flat_state is None
    for ours, theirs in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)

    def described(opt, model):  # paths with the model's own layer names taken out
        names = {w.path.replace("/", "_"): f"w{i}" for i, w in enumerate(model.weights)}
        out = []
        for v in opt.variables:
            path = v.path
            for name, short in names.items():
                path = path.replace(name, short)
            out.append((path, v.shape))
        return out

    assert described(model.optimizer, model) == described(reference.optimizer, reference)
    for a, b in zip(model.optimizer.variables, reference.optimizer.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-6)


def test_placed_variables_keep_their_api_and_eager_assign_semantics():
    model = _model(optimizers.SGD(0.1))
    start = [w.copy() for w in model.get_weights()]
    kernel = model.trainable_weights[0]
    path = kernel.path
    model.fit(X, Y, batch_size=20, epochs=1, verbose=0)
    assert kernel.path == path and path.endswith("/kernel") and kernel.shape == (6, 5)
    weights = model.get_weights()
    assert not any(np.shares_memory(w, kernel._value) for w in weights)  # copies
    held = kernel.value
    kernel.assign(np.zeros((6, 5)))  # replaces: a Tensor read before keeps its value
    assert np.any(held.numpy() != 0) and np.all(kernel.numpy() == 0)

    # set_weights after placement, then a compiled step: the buffer takes the new values.
    model.set_weights(start)
    model.train_on_batch(X[:20], Y[:20])
    fresh = _model(optimizers.SGD(0.1))
    fresh.set_weights(start)
    fresh.train_on_batch(X[:20], Y[:20])
    for ours, theirs in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.shares_memory(kernel._value, model.optimizer._flat_state.params.array)


def test_a_variable_shared_by_two_optimizers_is_updated_once_by_each():
    shared = Variable(np.ones(3), name="shared")
    own_a, own_b = Variable(np.full(3, 2.0), name="a"), Variable(np.full(3, 3.0), name="b")
    opt_a, opt_b = optimizers.Adam(0.1), optimizers.SGD(0.5)

    def step(g):
        opt_a.apply_gradients([(g, shared), (g * 2.0, own_a)])
        opt_b.apply_gradients([(g, shared), (g * 3.0, own_b)])
        return ops.sum(shared)

    f = compiler.function(step)
    g = np.array([1.0, -1.0, 0.5], np.float32)
    f(g)
    f(g)
    # The second optimizer found `shared` placed by the first: it updates it on its own.
    assert shared._flat is opt_a._flat_state.params
    assert [v.name for v in opt_b._flat_state.params.variables] == ["b"]

    eager = [Variable(np.ones(3)), Variable(np.full(3, 2.0)), Variable(np.full(3, 3.0))]
    ea, eb = optimizers.Adam(0.1), optimizers.SGD(0.5)
    for _ in range(2):
        ea.apply_gradients([(g, eager[0]), (g * 2.0, eager[1])])
        eb.apply_gradients([(g, eager[0]), (g * 3.0, eager[2])])
    for ours, theirs in zip([shared, own_a, own_b], eager, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_a_user_update_step_and_a_missing_gradient_take_the_per_variable_path():
    class Halving(optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(ops.multiply(ops.sum(gradient), 0.5))  # not elementwise

    w = Variable(np.ones(2))
    v = Variable(np.ones(2))
    opt = Halving(learning_rate=1.0)
    f = compiler.function(lambda g: opt.apply_gradients([(g, w), (g, v)]))
    f(np.array([1.0, 2.0], np.float32))
    assert opt._flat_state is None and w._flat is None
    np.testing.assert_allclose(w.numpy(), [-0.5, -0.5])

    adam = optimizers.Adam(0.1)
    adam.build([w, v])
    f2 = compiler.function(lambda g: adam.apply_gradients([(g, w)]))  # none for v
    before = v.numpy()
    f2(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(v.numpy(), before)  # Adam would move it with a zero grad
    assert np.all(w.numpy() < -0.5)


def test_flat_variables_are_not_listed_anywhere():
    model = _model(optimizers.Adam())
    model.fit(X, Y, batch_size=20, epochs=1, verbose=0)
    listed = model.optimizer.variables + model.weights
    assert not any(isinstance(v, FlatVariable) for v in listed)
    assert len(model.optimizer.variables) == 2 + 2 * len(model.trainable_weights)
