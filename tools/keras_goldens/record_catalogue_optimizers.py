"""Record golden values for every optimizer and learning-rate schedule from real Keras 3.

Run it in the separate Keras environment (see README.md next to this file):

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python \
        tools/keras_goldens/record_catalogue_optimizers.py --out tests/fixtures/keras_goldens

Writes `catalogue_optimizers.npz` and `catalogue_optimizers.json`.

Optimizers: two float32 variables `w0` (3, 4) and `w1` (4,) start from `init_w0`, `init_w1`;
five steps of `apply_gradients` with the fixed gradients `grad{step}_w{i}` (step 0..4); the
weights after the five steps are `<case>/w0`, `<case>/w1`. The JSON holds, per case, the
class, the constructor kwargs, Keras' `get_config()` and the optimizer's variable paths.

Schedules: each schedule's value at STEPS is `schedule/<case>`; the JSON holds the class,
kwargs, `get_config()` and `keras.optimizers.schedules.serialize()`.

Deterministic: the inputs come from `np.random.default_rng(0)`, the npz is written with
sorted keys and a fixed zip timestamp, the JSON with sorted keys.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from npz_files import write_npz  # noqa: E402
from record import versions  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"must run with KERAS_BACKEND=jax, got {keras.backend.backend()!r}")

SHAPES = [(3, 4), (4,)]
N_STEPS = 5
STEPS = [0, 1, 5, 10, 50, 100, 1000]

# Per optimizer: kwargs of a "custom" case exercising its own options.
OWN_OPTIONS = {
    "SGD": dict(learning_rate=0.1, momentum=0.9, nesterov=True),
    "Adam": dict(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6, amsgrad=True),
    "AdamW": dict(learning_rate=0.05, weight_decay=0.1, amsgrad=True),
    "RMSprop": dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-6, centered=True),
    "Adagrad": dict(learning_rate=0.1, initial_accumulator_value=0.2, epsilon=1e-5),
    "Adadelta": dict(learning_rate=1.0, rho=0.9, epsilon=1e-6),
    "Adamax": dict(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    "Nadam": dict(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    "Lion": dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95),
}
BASE_VARIANTS = {
    "clipnorm": dict(learning_rate=0.05, clipnorm=0.5),
    "clipvalue": dict(learning_rate=0.05, clipvalue=0.1),
    "global_clipnorm": dict(learning_rate=0.05, global_clipnorm=0.6),
    "weight_decay": dict(learning_rate=0.05, weight_decay=0.1),
    "weight_decay_clipnorm": dict(learning_rate=0.05, weight_decay=0.05, clipnorm=1.0),
}
# Cases that exercise the base optimizer's other machinery.
EXTRA = {
    "SGD/ema": ("SGD", dict(learning_rate=0.1, momentum=0.5, use_ema=True, ema_momentum=0.9)),
    "SGD/ema_overwrite": (
        "SGD",
        dict(learning_rate=0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=2),
    ),  # fmt: skip
    "Adam/accumulate": ("Adam", dict(learning_rate=0.05, gradient_accumulation_steps=2)),
    "SGD/accumulate": (
        "SGD",
        dict(learning_rate=0.1, momentum=0.9, gradient_accumulation_steps=3),
    ),  # fmt: skip
    "Adam/loss_scale": ("Adam", dict(learning_rate=0.05, loss_scale_factor=4.0)),
    "Adam/schedule": (
        "Adam",
        dict(
            learning_rate={
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5},
            }
        ),
    ),  # fmt: skip
    "AdamW/exclude": ("AdamW", dict(learning_rate=0.05, weight_decay=0.2)),
}

SCHEDULES = {
    "exponential": (
        "ExponentialDecay",
        dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    ),  # fmt: skip
    "exponential_staircase": (
        "ExponentialDecay",
        dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.9, staircase=True),
    ),  # fmt: skip
    "piecewise": (
        "PiecewiseConstantDecay",
        dict(boundaries=[5, 50, 100], values=[1.0, 0.5, 0.1, 0.01]),
    ),  # fmt: skip
    "polynomial": (
        "PolynomialDecay",
        dict(initial_learning_rate=0.1, decay_steps=100, end_learning_rate=0.001, power=2.0),
    ),  # fmt: skip
    "polynomial_cycle": (
        "PolynomialDecay",
        dict(
            initial_learning_rate=0.1, decay_steps=30, end_learning_rate=0.01, power=0.5, cycle=True
        ),
    ),  # fmt: skip
    "inverse_time": (
        "InverseTimeDecay",
        dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    ),  # fmt: skip
    "inverse_time_staircase": (
        "InverseTimeDecay",
        dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.3, staircase=True),
    ),  # fmt: skip
    "cosine": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100, alpha=0.1)),
    "cosine_warmup": (
        "CosineDecay",
        dict(
            initial_learning_rate=0.01,
            decay_steps=200,
            alpha=0.05,
            warmup_target=0.1,
            warmup_steps=20,
        ),
    ),  # fmt: skip
    "cosine_restarts": (
        "CosineDecayRestarts",
        dict(initial_learning_rate=0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.9, alpha=0.05),
    ),  # fmt: skip
    "cosine_restarts_t1": (
        "CosineDecayRestarts",
        dict(initial_learning_rate=0.1, first_decay_steps=7, t_mul=1.0, m_mul=0.8),
    ),  # fmt: skip
}


def inputs():
    rng = np.random.default_rng(0)
    arrays = {f"init_w{i}": rng.normal(size=s).astype(np.float32) for i, s in enumerate(SHAPES)}
    for step in range(N_STEPS):
        for i, s in enumerate(SHAPES):
            arrays[f"grad{step}_w{i}"] = rng.normal(size=s).astype(np.float32)
    return arrays


def build_kwargs(kwargs):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = keras.optimizers.schedules.deserialize(kwargs["learning_rate"])
    return kwargs


def run_optimizer(case, class_name, kwargs, data):
    keras.backend.clear_session()
    opt = getattr(keras.optimizers, class_name)(**build_kwargs(kwargs))
    ws = [keras.Variable(data[f"init_w{i}"], name=f"w{i}") for i in range(len(SHAPES))]
    if case == "AdamW/exclude":
        opt.exclude_from_weight_decay(var_names=["w1"])
    for step in range(N_STEPS):
        grads = [data[f"grad{step}_w{i}"] for i in range(len(SHAPES))]
        opt.apply_gradients(zip(grads, ws, strict=True))
    arrays = {f"{case}/w{i}": np.asarray(w.numpy()) for i, w in enumerate(ws)}
    if opt.use_ema:
        averages = opt._model_variables_moving_average
        for i, a in enumerate(averages):
            arrays[f"{case}/average_w{i}"] = np.asarray(a.numpy())
        opt.finalize_variable_values(ws)
        for i, w in enumerate(ws):
            arrays[f"{case}/finalized_w{i}"] = np.asarray(w.numpy())
    info = {
        "class_name": class_name,
        "kwargs": kwargs,
        "config": opt.get_config(),
        "variable_paths": [v.path for v in opt.variables],
        "iterations": int(np.asarray(opt.iterations)),
    }
    return arrays, info


def optimizer_cases(data):
    arrays, info = {}, {}
    cases = {}
    for class_name, own in OWN_OPTIONS.items():
        cases[f"{class_name}/default"] = (class_name, {})
        cases[f"{class_name}/own"] = (class_name, own)
        for variant, kwargs in BASE_VARIANTS.items():
            cases[f"{class_name}/{variant}"] = (class_name, kwargs)
    cases.update(EXTRA)
    for case, (class_name, kwargs) in cases.items():
        a, i = run_optimizer(case, class_name, kwargs, data)
        arrays.update(a)
        info[case] = i
    return arrays, info


def schedule_cases():
    arrays, info = {}, {}
    for case, (class_name, kwargs) in SCHEDULES.items():
        schedule = getattr(keras.optimizers.schedules, class_name)(**kwargs)
        values = [float(np.asarray(schedule(step))) for step in STEPS]
        arrays[f"schedule/{case}"] = np.asarray(values, np.float32)
        info[case] = {
            "class_name": class_name,
            "kwargs": kwargs,
            "config": schedule.get_config(),
            "serialized": keras.optimizers.schedules.serialize(schedule),
            "values": values,
        }
    return arrays, info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    data = inputs()
    opt_arrays, opt_info = optimizer_cases(data)
    sched_arrays, sched_info = schedule_cases()
    arrays = {**data, **opt_arrays, **sched_arrays}
    arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    os.makedirs(args.out, exist_ok=True)
    write_npz(os.path.join(args.out, "catalogue_optimizers.npz"), arrays)
    index = {
        "description": "Optimizer and schedule goldens from real Keras; see "
        "tools/keras_goldens/record_catalogue_optimizers.py.",
        "versions": versions(),
        "shapes": [list(s) for s in SHAPES],
        "n_steps": N_STEPS,
        "schedule_steps": STEPS,
        "optimizers": opt_info,
        "schedules": sched_info,
    }
    with open(os.path.join(args.out, "catalogue_optimizers.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(opt_info)} optimizer cases, {len(sched_info)} schedules, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
