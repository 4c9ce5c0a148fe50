"""The optimizer catalogue beyond the goldens: name resolution, bad arguments, state,
gradient forms, EMA and gradient accumulation inside a traced step."""

import json

import numpy as np
import pytest

from backend import Variable, compiler, ops
from kerasish import optimizers
from kerasish.optimizers import schedules

ALL = [optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop,
       optimizers.Adagrad, optimizers.Adadelta, optimizers.Adamax, optimizers.Nadam,
       optimizers.Lion]  # fmt: skip
ALIASES = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "adamw": optimizers.AdamW,
           "rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad,
           "adadelta": optimizers.Adadelta, "adamax": optimizers.Adamax,
           "nadam": optimizers.Nadam, "lion": optimizers.Lion}  # fmt: skip


@pytest.mark.parametrize("name, cls", sorted(ALIASES.items()))
def test_get_resolves_every_alias(name, cls):
    assert type(optimizers.get(name)) is cls
    assert type(optimizers.get(cls.__name__)) is cls
    assert type(optimizers.get(cls)) is cls
    assert type(optimizers.get({"class_name": f"Custom>{cls.__name__}", "config": {}})) is cls
    assert type(optimizers.get({"class_name": cls.__name__, "config": {}})) is cls


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown optimizer.*'adamw'.*'lion'"):
        optimizers.get("adamz")
    with pytest.raises(ValueError, match="Unknown learning rate schedule.*CosineDecay"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "kwargs",
    [dict(learning_rate=-0.01), dict(learning_rate="fast"), dict(learning_rate=[0.1]),
     dict(learning_rate=float("nan")), dict(clipnorm=1.0, clipvalue=1.0),
     dict(clipvalue=1.0, global_clipnorm=1.0), dict(clipnorm=0.0), dict(weight_decay=-1.0),
     dict(unknown_argument=3)],
)  # fmt: skip
def test_bad_arguments_raise(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


@pytest.mark.parametrize(
    "cls, kwargs",
    [(optimizers.Adam, dict(beta_1=1.0)), (optimizers.AdamW, dict(weight_decay=None)),
     (optimizers.RMSprop, dict(rho=-0.1)), (optimizers.Adagrad, dict(epsilon="x")),
     (optimizers.Adadelta, dict(rho=2.0)), (optimizers.Adamax, dict(beta_2=1.0)),
     (optimizers.Nadam, dict(epsilon=-1.0)), (optimizers.Lion, dict(beta_1=0.0)),
     (schedules.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=0,
                                       decay_rate=0.5)),
     (schedules.PiecewiseConstantDecay, dict(boundaries=[1, 2], values=[0.1, 0.2])),
     (schedules.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=-1))],
)  # fmt: skip
def test_own_bad_arguments_raise(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


def _variables():
    rng = np.random.default_rng(5)
    return [Variable(rng.normal(size=(3, 4)).astype(np.float32), name="a"),
            Variable(rng.normal(size=(4,)).astype(np.float32), name="b")]  # fmt: skip


GRADS = [[np.random.default_rng(k).normal(size=s).astype(np.float32) for s in ((3, 4), (4,))]
         for k in range(6)]  # fmt: skip


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_state_round_trip_continues_identically(cls):
    """Three steps, save, restore into a fresh optimizer, three more: same as six steps."""
    ws = _variables()
    opt = cls(learning_rate=0.05)
    for grads in GRADS[:3]:
        opt.apply(grads, ws)
    store = {}
    opt.save_own_variables(store)
    assert all(isinstance(v, np.ndarray) for v in store.values())
    copies = [Variable(w.numpy(), name=w.name) for w in ws]
    again = cls(learning_rate=0.05)
    again.build(copies)
    again.load_own_variables(store)
    for grads in GRADS[3:]:
        opt.apply(grads, ws)
        again.apply([ops.convert_to_tensor(g) for g in grads], copies)  # Tensors this time
    for w, c in zip(ws, copies, strict=True):
        np.testing.assert_array_equal(w.numpy(), c.numpy())
    assert int(again.iterations) == 6


def _numpy_ema_sgd(lr, ema_momentum, steps):
    ws = [w.numpy().astype(np.float64) for w in _variables()]
    averages = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(GRADS[:steps]):
        m = 0.0 if t == 0 else ema_momentum
        for i, g in enumerate(grads):
            ws[i] = ws[i] - lr * g
            averages[i] = m * averages[i] + (1 - m) * ws[i]
    return ws, averages


def test_ema_traced_and_finalize():
    ws = _variables()
    opt = optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.8)
    step = compiler.function(lambda g0, g1: opt.apply_gradients(zip([g0, g1], ws, strict=True)))
    for grads in GRADS[:4]:
        step(*grads)
    want_ws, want_avg = _numpy_ema_sgd(0.1, 0.8, 4)
    for w, want in zip(ws, want_ws, strict=True):
        np.testing.assert_allclose(w.numpy(), want, rtol=1e-5, atol=1e-6)
    opt.finalize_variable_values(ws)
    for w, want in zip(ws, want_avg, strict=True):
        np.testing.assert_allclose(w.numpy(), want, rtol=1e-5, atol=1e-6)
    optimizers.SGD().finalize_variable_values(ws)  # no EMA: nothing happens


@pytest.mark.parametrize("traced", [False, True])
def test_gradient_accumulation_applies_the_mean_every_n_steps(traced):
    ws = _variables()
    start = [w.numpy().copy() for w in ws]
    opt = optimizers.SGD(learning_rate=0.1, gradient_accumulation_steps=3)

    def apply(g0, g1):
        return opt.apply_gradients(zip([g0, g1], ws, strict=True))

    step = compiler.function(apply) if traced else apply
    for k, grads in enumerate(GRADS):
        step(*grads)
        done = (k + 1) // 3
        want = [s - 0.1 * sum(np.mean([GRADS[3 * j + 0][i], GRADS[3 * j + 1][i],
                                       GRADS[3 * j + 2][i]], axis=0) for j in range(done))
                for i, s in enumerate(start)]  # fmt: skip
        for w, expected in zip(ws, want, strict=True):
            np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert int(np.asarray(opt.iterations)) == done
    assert int(opt._iterations.numpy()) == len(GRADS)


def test_schedule_learning_rate_traced_and_serialized():
    schedule = schedules.PiecewiseConstantDecay([1, 2], [0.5, 0.25, 0.125])
    opt = optimizers.SGD(learning_rate=schedule)
    w = Variable(np.zeros(1, np.float32))
    step = compiler.function(lambda g: opt.apply_gradients([(g, w)]))
    for _ in range(4):  # schedule at iterations 0, 1, 2, 3
        step(np.ones(1, np.float32))
    assert float(w.numpy()[0]) == pytest.approx(-(0.5 + 0.5 + 0.25 + 0.125))
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    assert config["config"]["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    again = optimizers.get(config)
    assert isinstance(again._learning_rate, schedules.PiecewiseConstantDecay)
    assert float(np.asarray(again.learning_rate)) == 0.5


def test_exclude_from_weight_decay_by_variable():
    ws = _variables()
    before = ws[1].numpy().copy()
    opt = optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[ws[1]])
    opt.apply([np.zeros((3, 4), np.float32), np.zeros(4, np.float32)], ws)
    np.testing.assert_array_equal(ws[1].numpy(), before)  # zero gradient, no decay
