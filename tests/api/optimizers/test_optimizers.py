"""Optimizers: five steps against numpy versions of Keras 3's formulas, eager and traced."""

import json
import warnings

import numpy as np
import pytest

from backend import Variable, compiler
from kerasish import optimizers

RNG = np.random.default_rng(2)
W0 = [RNG.normal(size=(3, 2)).astype(np.float32), RNG.normal(size=(2,)).astype(np.float32)]
GRADS = [[RNG.normal(size=w.shape).astype(np.float32) for w in W0] for _ in range(5)]


def numpy_sgd(lr=0.01, momentum=0.0, nesterov=False):
    ws = [w.astype(np.float64) for w in W0]
    ms = [np.zeros_like(w) for w in ws]
    for grads in GRADS:
        for i, g in enumerate(grads):
            if momentum == 0:
                ws[i] = ws[i] - lr * g
                continue
            ms[i] = momentum * ms[i] - lr * g
            ws[i] = ws[i] + (momentum * ms[i] - lr * g if nesterov else ms[i])
    return ws


def numpy_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, clip=None, decay=None):
    ws = [w.astype(np.float64) for w in W0]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    vhats = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(GRADS, start=1):
        grads = [g.astype(np.float64) for g in grads]
        if clip is not None:
            grads = clip(grads)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in enumerate(grads):
            if decay:
                ws[i] = ws[i] - ws[i] * decay * lr
            ms[i] += (g - ms[i]) * (1 - b1)
            vs[i] += (g * g - vs[i]) * (1 - b2)
            v = vs[i]
            if amsgrad:
                vhats[i] = np.maximum(vhats[i], vs[i])
                v = vhats[i]
            ws[i] = ws[i] - alpha * ms[i] / (np.sqrt(v) + eps)
    return ws


def run(opt, traced=False, as_tensors=False):
    variables = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(W0)]
    if traced:
        step = compiler.function(
            lambda g0, g1: opt.apply_gradients(zip([g0, g1], variables, strict=True))
        )
    for grads in GRADS:
        if traced:
            step(*grads)
        else:
            opt.apply_gradients(zip(grads, variables, strict=True))
    assert int(opt.iterations) == len(GRADS)
    return [v.numpy() for v in variables]


def check(got, want, tol=2e-6):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


SGD_CASES = [dict(learning_rate=0.1), dict(learning_rate=0.1, momentum=0.9),
             dict(learning_rate=0.05, momentum=0.5, nesterov=True)]  # fmt: skip


@pytest.mark.parametrize("kwargs", SGD_CASES)
@pytest.mark.parametrize("traced", [False, True])
def test_sgd_five_steps(kwargs, traced):
    want = numpy_sgd(kwargs["learning_rate"], kwargs.get("momentum", 0.0),
                     kwargs.get("nesterov", False))  # fmt: skip
    check(run(optimizers.SGD(**kwargs), traced), want)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("traced", [False, True])
def test_adam_five_steps(amsgrad, traced):
    want = numpy_adam(lr=0.01, amsgrad=amsgrad)
    check(run(optimizers.Adam(learning_rate=0.01, amsgrad=amsgrad), traced), want)


def test_adam_defaults_match_keras():
    opt = optimizers.Adam()
    config = opt.get_config()
    assert (config["learning_rate"], config["beta_1"], config["beta_2"], config["epsilon"],
            config["amsgrad"]) == (pytest.approx(0.001), 0.9, 0.999, 1e-7, False)  # fmt: skip
    assert opt.name == "adam" and optimizers.SGD().name == "sgd"  # Keras 3.15's names
    assert optimizers.SGD().get_config()["learning_rate"] == pytest.approx(0.01)
    check(run(opt), numpy_adam())


def _clip_by_norm(limit):
    return lambda gs: [g * limit / max(np.sqrt((g * g).sum()), limit) for g in gs]


def _clip_global(limit):
    def clip(gs):
        norm = np.sqrt(sum((g * g).sum() for g in gs))
        return [g * limit / max(norm, limit) for g in gs]

    return clip


@pytest.mark.parametrize(
    "kwargs, clip",
    [
        (dict(clipnorm=0.5), _clip_by_norm(0.5)),
        (dict(clipvalue=0.3), lambda gs: [np.clip(g, -0.3, 0.3) for g in gs]),
        (dict(global_clipnorm=0.7), _clip_global(0.7)),
    ],
)
@pytest.mark.parametrize("traced", [False, True])
def test_clipping(kwargs, clip, traced):
    check(run(optimizers.Adam(learning_rate=0.01, **kwargs), traced),
          numpy_adam(lr=0.01, clip=clip))  # fmt: skip


@pytest.mark.parametrize("traced", [False, True])
def test_weight_decay(traced):
    check(run(optimizers.Adam(learning_rate=0.01, weight_decay=0.1), traced),
          numpy_adam(lr=0.01, decay=0.1))  # fmt: skip


def test_learning_rate_is_a_variable_and_settable_after_compiling():
    opt = optimizers.SGD(learning_rate=0.5)
    assert isinstance(opt.learning_rate, Variable)
    assert float(opt.learning_rate) == pytest.approx(0.5)
    assert opt.learning_rate.dtype == "float32" and opt.iterations.dtype == "int64"
    w = Variable(np.array([1.0], np.float32))
    step = compiler.function(lambda g: opt.apply_gradients([(g, w)]))
    step(np.array([1.0], np.float32))
    opt.learning_rate = 0.25
    assert float(opt.learning_rate) == pytest.approx(0.25)
    step(np.array([1.0], np.float32))
    assert float(w.numpy()[0]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0


def test_callable_schedule():
    opt = optimizers.SGD(learning_rate=lambda step: 0.1 / (1.0 + step))
    w = Variable(np.array([0.0], np.float32))
    for _ in range(3):
        opt.apply_gradients([(np.array([1.0], np.float32), w)])
    assert float(w.numpy()[0]) == pytest.approx(-(0.1 + 0.05 + 0.1 / 3), rel=1e-6)
    assert [v.name for v in opt.variables] == ["iteration"]
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1


def test_variables_order_and_names():
    a = Variable(np.zeros((2, 2), np.float32), name="kernel")
    a.path = "dense/kernel"
    b = Variable(np.zeros(2, np.float32), name="bias")
    b.path = "dense/bias"
    opt = optimizers.Adam(amsgrad=True)
    opt.build([a, b])
    assert [v.path for v in opt.variables] == [
        "adam/iteration", "adam/learning_rate",
        "adam/dense_kernel_momentum", "adam/dense_kernel_velocity",
        "adam/dense_bias_momentum", "adam/dense_bias_velocity",
        "adam/dense_kernel_velocity_hat", "adam/dense_bias_velocity_hat",
    ]  # fmt: skip
    sgd = optimizers.SGD(momentum=0.9)
    sgd.build([a, b])
    assert [v.name for v in sgd.variables][2:] == ["dense_kernel_momentum", "dense_bias_momentum"]
    assert len(optimizers.SGD().variables) == 2


def test_state_save_and_restore():
    opt = optimizers.Adam(learning_rate=0.01)
    run(opt)
    store = {}
    opt.save_own_variables(store)
    again = optimizers.Adam(learning_rate=0.5)
    again.build([Variable(w.copy()) for w in W0])
    again.load_own_variables(store)
    for x, y in zip(opt.variables, again.variables, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_apply_forms_and_none_gradients():
    v0, v1 = Variable(np.ones(2, np.float32)), Variable(np.ones(3, np.float32))
    opt = optimizers.SGD(learning_rate=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.apply([np.ones(2, np.float32), None], [v0, v1])
    assert any("Gradients do not exist" in str(w.message) for w in caught)
    assert v0.numpy().tolist() == [0.0, 0.0] and v1.numpy().tolist() == [1.0, 1.0, 1.0]
    opt.apply([np.ones(2), np.ones(3)])  # the variables it was built with
    assert v1.numpy().tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply([None, None], [v0, v1])
    with pytest.raises(ValueError, match="unknown variable"):
        opt.apply([np.ones(2)], [Variable(np.ones(2))])
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.ones(3)], [v0])
    with pytest.raises(ValueError, match="must already be built"):
        optimizers.Adam().apply([np.ones(2)])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(learning_rate=-0.1), ValueError),
        (dict(learning_rate="fast"), ValueError),
        (dict(learning_rate=None), ValueError),
        (dict(clipnorm=1.0, clipvalue=1.0), ValueError),
        (dict(clipnorm=1.0, global_clipnorm=1.0), ValueError),
        (dict(clipvalue=-1.0), ValueError),
        (dict(momentum=1.5), ValueError),
        (dict(bogus=1), ValueError),
        (dict(use_ema=True, ema_momentum=1.5), ValueError),
        (dict(use_ema=True, ema_overwrite_frequency=0), ValueError),
        (dict(gradient_accumulation_steps=1), ValueError),
        (dict(gradient_accumulation_steps=2.5), ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        optimizers.SGD(**kwargs)


def test_get_and_config_round_trip():
    assert type(optimizers.get("adam")) is optimizers.Adam
    assert type(optimizers.get("Adam")) is optimizers.Adam
    assert type(optimizers.get("sgd")) is optimizers.SGD
    assert type(optimizers.get("SGD")) is optimizers.SGD
    assert optimizers.get(None) is None
    opt = optimizers.SGD(learning_rate=0.3, momentum=0.9, nesterov=True, clipnorm=1.0)
    assert optimizers.get(opt) is opt
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    again = optimizers.get(config)
    assert type(again) is optimizers.SGD and again.get_config() == opt.get_config()
    legacy = {"class_name": "Custom>Adam",
              "config": {"name": "Adam", "learning_rate": 0.01, "jit_compile": True,
                         "is_legacy_optimizer": False, "beta_1": 0.8}}  # fmt: skip
    adam = optimizers.get(legacy)
    assert type(adam) is optimizers.Adam and adam.beta_1 == 0.8
    with pytest.raises(ValueError, match="Unknown optimizer.*adam"):
        optimizers.get("adamm")


GOLDENS = __import__("pathlib").Path(__file__).parents[2] / "fixtures" / "keras_goldens"


@pytest.mark.parametrize("traced", [False, True])
def test_keras_golden_mlp_adam_without_a_trainer(traced):
    """Keras' 3 Adam steps of Dense(16, relu) -> Dense(3, softmax), reproduced with a
    hand-written forward, our sparse crossentropy loss, a GradientTape and our Adam."""
    from backend import GradientTape, ops
    from kerasish import losses

    path = GOLDENS / "mlp_adam.npz"
    if not path.exists():
        pytest.skip("golden file missing")
    data = np.load(path)
    x, y = data["x"][:10], data["y"][:10]
    ws = [Variable(data[f"init_w{i}"].copy(), name=f"w{i}") for i in range(4)]
    opt = optimizers.Adam(learning_rate=0.01)
    loss_fn = losses.get("sparse_categorical_crossentropy")
    loss_obj = losses.resolve(loss_fn)

    def step(xb, yb):
        with GradientTape() as tape:
            h = ops.relu(ops.matmul(xb, ws[0]) + ws[1])
            probs = ops.softmax(ops.matmul(h, ws[2]) + ws[3])
            loss = loss_obj(yb, probs)
        opt.apply_gradients(zip(tape.gradient(loss, ws), ws, strict=True))
        return loss

    run_step = compiler.function(step) if traced else step
    for k in (1, 2, 3):
        loss = run_step(x, y)
        np.testing.assert_allclose(float(np.asarray(loss)), data[f"step{k}_result"].item(),
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
        for i, w in enumerate(ws):
            np.testing.assert_allclose(w.numpy(), data[f"step{k}_w{i}"], rtol=1e-5, atol=1e-5)
