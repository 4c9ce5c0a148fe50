"""Record golden values for activations, initializers, regularizers and constraints from
real Keras 3 (JAX backend, CPU, float32).

Run it in the separate keras + jax environment (see README.md next to this file):

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python \
        tools/keras_goldens/record_catalogue_activations.py --out tests/fixtures/keras_goldens

Writes `catalogue_activations.npz` (arrays) and `catalogue_activations.json` (configs,
alias tables, initializer statistics, versions). Both are byte-for-byte deterministic.

- `act__<case>`: each activation on the fixed grid `x` (or the matrix `x2d` for
  softmax-like ones), cases listed in the JSON under `activations` with their kwargs.
- `reg__<case>`: each regularizer's value on `w` (5, 4) or `w_conv` (3, 3, 2, 4).
- `con__<case>`: each constraint's output on `w` or `w_conv`.
- `init__<case>`: exact outputs of the deterministic initializers (Constant, Identity).
- JSON `initializer_stats`: mean, std, min, max and `abs_max` of each random initializer
  (seed=1) over shapes (200, 300) and (3, 3, 16, 32), plus the fans Keras used.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from npz_files import write_npz  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit("record_catalogue_activations.py must run with KERAS_BACKEND=jax")

from keras import activations, constraints, initializers, regularizers  # noqa: E402
from keras.src import activations as keras_src_activations  # noqa: E402
from keras.src import constraints as keras_src_constraints  # noqa: E402
from keras.src import initializers as keras_src_initializers  # noqa: E402
from keras.src import regularizers as keras_src_regularizers  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans  # noqa: E402

KERAS_SRC = {
    "activations": keras_src_activations,
    "constraints": keras_src_constraints,
    "initializers": keras_src_initializers,
    "regularizers": keras_src_regularizers,
}

# ---------------------------------------------------------------- inputs

X = np.concatenate(
    [
        np.linspace(-10.0, 10.0, 41),
        [-100.0, -50.0, -20.0, 20.0, 50.0, 80.0, 100.0, 1e-4, -1e-4, 0.0, 3.0, -3.0, 6.0],
        [-0.5, 0.5, 1.0, -1.0, 2.5, -2.5, 5.9, 6.1],
    ]
).astype(np.float32)
X2D = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32) * 4.0
X2D[0, :] = [100.0, -100.0, 50.0, 0.0, 1.0, 2.0, 3.0, -50.0]  # large logits: stability
W = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
W_CONV = (np.random.default_rng(2).normal(size=(3, 3, 2, 4)) * 2.0).astype(np.float32)

# (case, activation name, kwargs, input name)
ACTIVATIONS = [
    ("relu", "relu", {}, "x"),
    ("relu_slope", "relu", {"negative_slope": 0.1}, "x"),
    ("relu_max5", "relu", {"max_value": 5.0}, "x"),
    ("relu_max6", "relu", {"max_value": 6.0}, "x"),
    ("relu_threshold", "relu", {"threshold": 2.0}, "x"),
    ("relu_slope_threshold", "relu", {"negative_slope": 0.1, "threshold": 1.0}, "x"),
    ("relu_all", "relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 1.0}, "x"),
    ("relu_slope_max", "relu", {"negative_slope": 0.3, "max_value": 6.0}, "x"),
    ("relu6", "relu6", {}, "x"),
    ("sigmoid", "sigmoid", {}, "x"),
    ("hard_sigmoid", "hard_sigmoid", {}, "x"),
    ("hard_silu", "hard_silu", {}, "x"),
    ("hard_swish", "hard_swish", {}, "x"),
    ("tanh", "tanh", {}, "x"),
    ("softmax", "softmax", {}, "x2d"),
    ("softmax_axis0", "softmax", {"axis": 0}, "x2d"),
    ("log_softmax", "log_softmax", {}, "x2d"),
    ("log_softmax_axis0", "log_softmax", {"axis": 0}, "x2d"),
    ("elu", "elu", {}, "x"),
    ("elu_alpha", "elu", {"alpha": 0.5}, "x"),
    ("selu", "selu", {}, "x"),
    ("gelu", "gelu", {}, "x"),
    ("gelu_approximate", "gelu", {"approximate": True}, "x"),
    ("silu", "silu", {}, "x"),
    ("swish", "swish", {}, "x"),
    ("softplus", "softplus", {}, "x"),
    ("softsign", "softsign", {}, "x"),
    ("leaky_relu", "leaky_relu", {}, "x"),
    ("leaky_relu_slope", "leaky_relu", {"negative_slope": 0.05}, "x"),
    ("exponential", "exponential", {}, "x"),
    ("linear", "linear", {}, "x"),
    ("mish", "mish", {}, "x"),
    ("celu", "celu", {}, "x"),
    ("celu_alpha", "celu", {"alpha": 2.0}, "x"),
    ("log_sigmoid", "log_sigmoid", {}, "x"),
    ("hard_tanh", "hard_tanh", {}, "x"),
    ("tanh_shrink", "tanh_shrink", {}, "x"),
    ("squareplus", "squareplus", {}, "x"),
    ("sparse_plus", "sparse_plus", {}, "x"),
    ("sparse_sigmoid", "sparse_sigmoid", {}, "x"),
    ("soft_shrink", "soft_shrink", {}, "x"),
    ("hard_shrink", "hard_shrink", {}, "x"),
    ("threshold", "threshold", {"threshold": 1.0, "default_value": -1.0}, "x"),
    ("glu", "glu", {}, "x2d"),
]

REGULARIZERS = [
    ("l1_default", regularizers.L1(), "w"),
    ("l1", regularizers.L1(0.1), "w"),
    ("l2_default", regularizers.L2(), "w"),
    ("l2", regularizers.L2(0.3), "w_conv"),
    ("l1l2_default", regularizers.L1L2(), "w"),
    ("l1l2", regularizers.L1L2(l1=0.01, l2=0.02), "w"),
    ("l1l2_conv", regularizers.L1L2(l1=0.05, l2=0.1), "w_conv"),
    ("orthogonal_rows", regularizers.OrthogonalRegularizer(), "w"),
    ("orthogonal_columns", regularizers.OrthogonalRegularizer(0.1, mode="columns"), "w"),
]

CONSTRAINTS = [
    ("max_norm_default", constraints.MaxNorm(), "w"),
    ("max_norm_axis1", constraints.MaxNorm(max_value=1.0, axis=1), "w"),
    ("max_norm_conv", constraints.MaxNorm(max_value=3.0, axis=[0, 1, 2]), "w_conv"),
    ("min_max_norm_default", constraints.MinMaxNorm(), "w"),
    ("min_max_norm", constraints.MinMaxNorm(0.5, 1.5, rate=0.5, axis=1), "w"),
    ("min_max_norm_conv", constraints.MinMaxNorm(2.0, 4.0, axis=[0, 1, 2]), "w_conv"),
    ("non_neg", constraints.NonNeg(), "w"),
    ("unit_norm_default", constraints.UnitNorm(), "w"),
    ("unit_norm_axis1", constraints.UnitNorm(axis=1), "w"),
    ("unit_norm_conv", constraints.UnitNorm(axis=[0, 1, 2]), "w_conv"),
]

# Random initializers whose statistics are recorded (all seed=1).
RANDOM_INITIALIZERS = [
    ("random_normal", initializers.RandomNormal(mean=0.5, stddev=2.0, seed=1)),
    ("random_uniform", initializers.RandomUniform(minval=-0.3, maxval=0.7, seed=1)),
    ("truncated_normal", initializers.TruncatedNormal(mean=-1.0, stddev=0.5, seed=1)),
    ("glorot_uniform", initializers.GlorotUniform(seed=1)),
    ("glorot_normal", initializers.GlorotNormal(seed=1)),
    ("he_uniform", initializers.HeUniform(seed=1)),
    ("he_normal", initializers.HeNormal(seed=1)),
    ("lecun_uniform", initializers.LecunUniform(seed=1)),
    ("lecun_normal", initializers.LecunNormal(seed=1)),
    (
        "variance_scaling_fan_out_untruncated",
        initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1),
    ),
    (
        "variance_scaling_fan_avg_uniform",
        initializers.VarianceScaling(0.5, "fan_avg", "uniform", seed=1),
    ),
    ("orthogonal", initializers.Orthogonal(gain=2.0, seed=1)),
]
STAT_SHAPES = {"dense": (200, 300), "conv": (3, 3, 16, 32)}

# Every member with default arguments and with non-default ones: configs to match.
CONFIG_OBJECTS = {
    "initializers": {
        "Zeros": initializers.Zeros(),
        "Ones": initializers.Ones(),
        "Constant": initializers.Constant(),
        "Constant_args": initializers.Constant(0.5),
        "RandomNormal": initializers.RandomNormal(),
        "RandomNormal_args": initializers.RandomNormal(mean=0.5, stddev=2.0, seed=1),
        "RandomUniform": initializers.RandomUniform(),
        "RandomUniform_args": initializers.RandomUniform(minval=-0.3, maxval=0.7, seed=1),
        "TruncatedNormal": initializers.TruncatedNormal(),
        "TruncatedNormal_args": initializers.TruncatedNormal(mean=-1.0, stddev=0.5, seed=1),
        "VarianceScaling": initializers.VarianceScaling(),
        "VarianceScaling_args": initializers.VarianceScaling(3.0, "fan_out", "normal", seed=1),
        "GlorotUniform": initializers.GlorotUniform(),
        "GlorotUniform_args": initializers.GlorotUniform(seed=1),
        "GlorotNormal": initializers.GlorotNormal(),
        "HeUniform": initializers.HeUniform(),
        "HeNormal": initializers.HeNormal(seed=3),
        "LecunUniform": initializers.LecunUniform(),
        "LecunNormal": initializers.LecunNormal(),
        "Orthogonal": initializers.Orthogonal(),
        "Orthogonal_args": initializers.Orthogonal(gain=2.0, seed=1),
        "Identity": initializers.Identity(),
        "Identity_args": initializers.Identity(gain=3.0),
    },
    "regularizers": {
        "L1": regularizers.L1(),
        "L1_args": regularizers.L1(0.1),
        "L2": regularizers.L2(),
        "L2_args": regularizers.L2(0.3),
        "L1L2": regularizers.L1L2(),
        "L1L2_args": regularizers.L1L2(l1=0.01, l2=0.02),
        "OrthogonalRegularizer": regularizers.OrthogonalRegularizer(),
        "OrthogonalRegularizer_args": regularizers.OrthogonalRegularizer(0.1, mode="columns"),
    },
    "constraints": {
        "MaxNorm": constraints.MaxNorm(),
        "MaxNorm_args": constraints.MaxNorm(max_value=1.0, axis=1),
        "MinMaxNorm": constraints.MinMaxNorm(),
        "MinMaxNorm_args": constraints.MinMaxNorm(0.5, 1.5, rate=0.5, axis=1),
        "NonNeg": constraints.NonNeg(),
        "UnitNorm": constraints.UnitNorm(),
        "UnitNorm_args": constraints.UnitNorm(axis=1),
    },
}


# ---------------------------------------------------------------- recording


def record_activations(arrays, info):
    inputs = {"x": X, "x2d": X2D}
    info["activations"] = {}
    for case, name, kwargs, input_name in ACTIVATIONS:
        fn = activations.get(name)
        arrays[f"act__{case}"] = np.asarray(fn(inputs[input_name], **kwargs), np.float32)
        info["activations"][case] = {"name": name, "kwargs": kwargs, "input": input_name}
    info["activation_serialize"] = {
        name: activations.serialize(fn)
        for name, fn in keras_src_activations.ALL_OBJECTS_DICT.items()
    }


def record_regularizers_and_constraints(arrays, info):
    weights = {"w": W, "w_conv": W_CONV}
    info["regularizers"], info["constraints"] = {}, {}
    for case, reg, input_name in REGULARIZERS:
        arrays[f"reg__{case}"] = np.asarray(
            reg(keras.ops.convert_to_tensor(weights[input_name])), np.float32
        )
        info["regularizers"][case] = {**regularizers.serialize(reg), "input": input_name}
    for case, con, input_name in CONSTRAINTS:
        arrays[f"con__{case}"] = np.asarray(
            con(keras.ops.convert_to_tensor(weights[input_name])), np.float32
        )
        info["constraints"][case] = {**constraints.serialize(con), "input": input_name}


def record_initializers(arrays, info):
    arrays["init__constant"] = np.asarray(initializers.Constant(0.5)((3, 4)), np.float32)
    arrays["init__identity"] = np.asarray(initializers.Identity(2.0)((3, 4)), np.float32)
    arrays["init__identity_tall"] = np.asarray(initializers.Identity()((4, 2)), np.float32)
    stats = {}
    for case, init in RANDOM_INITIALIZERS:
        stats[case] = {"config": initializers.serialize(init)}
        for shape_name, shape in STAT_SHAPES.items():
            v = np.asarray(init(shape), np.float64)
            fan_in, fan_out = compute_fans(shape)
            stats[case][shape_name] = {
                "shape": list(shape),
                "fan_in": fan_in,
                "fan_out": fan_out,
                "mean": float(v.mean()),
                "std": float(v.std()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
    info["initializer_stats"] = stats


def record_configs(info):
    info["configs"] = {
        family: {key: getattr(keras, family).serialize(obj) for key, obj in members.items()}
        for family, members in CONFIG_OBJECTS.items()
    }
    # Keras' resolution tables: every name `get` accepts, and the class it gives.
    info["aliases"] = {
        family: {
            name: getattr(obj, "__name__", str(obj))
            for name, obj in KERAS_SRC[family].ALL_OBJECTS_DICT.items()
        }
        for family in ("initializers", "regularizers", "constraints", "activations")
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    import jax

    arrays = {"x": X, "x2d": X2D, "w": W, "w_conv": W_CONV}
    info = {
        "description": "Activations, initializers, regularizers and constraints recorded from "
        "real Keras by tools/keras_goldens/record_catalogue_activations.py.",
        "versions": {
            "keras": keras.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
            "backend": keras.backend.backend(),
        },  # fmt: skip
    }
    record_activations(arrays, info)
    record_regularizers_and_constraints(arrays, info)
    record_initializers(arrays, info)
    record_configs(info)
    write_npz(os.path.join(args.out, "catalogue_activations.npz"), arrays)
    with open(os.path.join(args.out, "catalogue_activations.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(arrays)} arrays to {args.out}/catalogue_activations.npz")


if __name__ == "__main__":
    main()
