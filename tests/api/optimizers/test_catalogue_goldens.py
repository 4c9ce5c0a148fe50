"""Every optimizer and schedule against values recorded from real Keras 3
(tools/keras_goldens/record_catalogue_optimizers.py): five steps from fixed weights and
gradients, eager and traced; configs, variable paths and schedule values."""

import json
import pathlib

import numpy as np
import pytest

from backend import Variable, compiler
from kerasish import optimizers
from kerasish.optimizers import schedules

GOLDENS = pathlib.Path(__file__).parents[2] / "fixtures" / "keras_goldens"
if not (GOLDENS / "catalogue_optimizers.npz").exists():
    pytest.skip("catalogue_optimizers golden files missing", allow_module_level=True)
DATA = np.load(GOLDENS / "catalogue_optimizers.npz")
INDEX = json.loads((GOLDENS / "catalogue_optimizers.json").read_text())
CASES = INDEX["optimizers"]
N_VARS = len(INDEX["shapes"])
TRACED = ("SGD/", "Adam/", "AdamW/", "RMSprop/", "Nadam/own", "Lion/own", "Adagrad/own",
          "Adadelta/own", "Adamax/own")  # fmt: skip


def make(case):
    info = CASES[case]
    kwargs = dict(info["kwargs"])
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    return getattr(optimizers, info["class_name"])(**kwargs)


def run(case, traced):
    opt = make(case)
    ws = [Variable(DATA[f"init_w{i}"].copy(), name=f"w{i}") for i in range(N_VARS)]
    if case == "AdamW/exclude":
        opt.exclude_from_weight_decay(var_names=["w1"])
    if traced:
        step = compiler.function(lambda *grads: opt.apply_gradients(zip(grads, ws, strict=True)))
    for k in range(INDEX["n_steps"]):
        grads = [DATA[f"grad{k}_w{i}"] for i in range(N_VARS)]
        if traced:
            step(*grads)
        else:
            opt.apply_gradients(zip(grads, ws, strict=True))
    return opt, ws


def close(got, want):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_five_steps_eager(case):
    opt, ws = run(case, traced=False)
    for i, w in enumerate(ws):
        close(w.numpy(), DATA[f"{case}/w{i}"])
    assert int(np.asarray(opt.iterations)) == CASES[case]["iterations"]
    if opt.use_ema:
        for i in range(N_VARS):
            close(opt._averages[i].numpy(), DATA[f"{case}/average_w{i}"])
        opt.finalize_variable_values(ws)
        for i, w in enumerate(ws):
            close(w.numpy(), DATA[f"{case}/finalized_w{i}"])


@pytest.mark.parametrize("case", sorted(c for c in CASES if c.startswith(TRACED)))
def test_five_steps_traced(case):
    opt, ws = run(case, traced=True)
    for i, w in enumerate(ws):
        close(w.numpy(), DATA[f"{case}/w{i}"])
    assert int(np.asarray(opt.iterations)) == CASES[case]["iterations"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_and_variable_paths_match_keras(case):
    opt, _ = run(case, traced=False)
    config = json.loads(json.dumps(opt.get_config()))
    want = CASES[case]["config"]
    assert sorted(config) == sorted(want)
    for key, value in want.items():
        if isinstance(value, float):
            assert config[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert config[key] == value, key
    assert [v.path for v in opt.variables] == CASES[case]["variable_paths"]
    again = type(opt).from_config(config)
    assert again.get_config() == opt.get_config()
    assert optimizers.get(json.loads(json.dumps(optimizers.serialize(opt)))).get_config() == (
        opt.get_config()
    )


@pytest.mark.parametrize("case", sorted(INDEX["schedules"]))
@pytest.mark.parametrize("traced", [False, True])
def test_schedule_values(case, traced):
    info = INDEX["schedules"][case]
    schedule = getattr(schedules, info["class_name"])(**info["kwargs"])
    fn = compiler.function(schedule) if traced else schedule
    got = [float(np.asarray(fn(np.int64(step)))) for step in INDEX["schedule_steps"]]
    np.testing.assert_allclose(got, DATA[f"schedule/{case}"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", sorted(INDEX["schedules"]))
def test_schedule_config_round_trip(case):
    info = INDEX["schedules"][case]
    schedule = getattr(schedules, info["class_name"])(**info["kwargs"])
    assert schedule.get_config() == info["config"]
    serialized = json.loads(json.dumps(schedules.serialize(schedule)))
    assert serialized == info["serialized"]
    again = schedules.deserialize(serialized)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
