"""Record golden values from real Keras 3 (JAX backend) for kerasish's model tests.

Run it in a separate virtual environment that has keras + jax (never a kerasish
dependency); see README.md next to this file:

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python tools/keras_goldens/record.py \
        --out tests/fixtures/keras_goldens

Every case builds a small model, sets INITIAL WEIGHTS GENERATED WITH NUMPY
(`np.random.default_rng(seed)`, see `init_weights`) through `model.set_weights`,
runs Keras' training API on fixed float32 inputs and writes `<case>.npz`.
`index.json` describes every case: the source of the function that ran it,
the library versions, every array in the npz (name, shape, dtype), the model's
layer and weight names, the metric names Keras returned and the history keys.

The output is byte-for-byte deterministic: the npz archives are written with a
fixed zip timestamp and sorted keys, and the JSON with sorted keys.
"""

import argparse
import inspect
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import golden_io  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from npz_files import write_npz  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"record.py must run with KERAS_BACKEND=jax, got {keras.backend.backend()!r}")


# ---------------------------------------------------------------- helpers


def init_weights(shapes, seed):
    """Initial weights made with numpy only, so kerasish can rebuild them exactly.

    A kernel of shape (fan_in, fan_out) is uniform in +-sqrt(6 / (fan_in + fan_out))
    (Glorot uniform); a bias is normal * 0.1 (non-zero, so biases matter).
    Arrays are drawn in list order from one `np.random.default_rng(seed)`.
    The arrays are stored in each case's npz as `init_w0`, `init_w1`, ...
    """
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if len(shape) == 2:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(rng.uniform(-limit, limit, size=shape).astype(np.float32))
        else:
            out.append((rng.normal(size=shape) * 0.1).astype(np.float32))
    return out


def weight_list(model, prefix):
    """{prefix_w0: ..., prefix_w1: ...} from model.get_weights() (Keras' order), float32."""
    return {
        f"{prefix}_w{i}": np.asarray(w, dtype=np.float32) for i, w in enumerate(model.get_weights())
    }


def as_f32(values):
    """What train_on_batch / evaluate returned (scalar or list) as a float32 1-D array."""
    return np.asarray(values, dtype=np.float32).reshape(-1)


def model_info(model):
    """Layer names in model.layers order and weights (path, shape) in get_weights order."""
    return {
        "layers": [layer.name for layer in model.layers],
        "layer_classes": [type(layer).__name__ for layer in model.layers],
        "weights": [{"path": w.path, "shape": list(w.shape)} for w in model.weights],
    }


def compiled_metrics(model):
    """[[name, class]] of the metrics compile() made (e.g. "accuracy" -> BinaryAccuracy).

    Reads Keras internals (CompileMetrics -> MetricsList), so it is best effort.
    """
    try:
        out = []
        for ml in model.metrics[-1]._flat_metrics:
            out += [[m.name, type(m).__name__] for m in getattr(ml, "metrics", [ml])]
        return out
    except Exception:
        return None


def logs_in_order(model, x, y):
    """test_on_batch(..., return_dict=True) as [[name, value], ...] in Keras' dict order.

    Run after the training steps (it does not change the weights), to show the
    names Keras gives the values that train_on_batch returns as a bare list.
    """
    d = model.test_on_batch(x, y, return_dict=True)
    return [[k, to_float(v)] for k, v in d.items()]


def fresh():
    """Reset Keras' global name counters, so names are dense, dense_1, ... in every case."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # nothing random runs, but make sure of it


def mlp_model():
    return keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )


MLP_SHAPES = [(8, 16), (16,), (16, 3), (3,)]
MLP_SEED = 1


def mlp_data():
    """x: (20, 8) float32 normal; y: (20,) int32 labels in 0..2 (seed 100)."""
    rng = np.random.default_rng(100)
    x = rng.normal(size=(20, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=(20,)).astype(np.int32)
    return x, y


def to_float(v):
    """A JSON-safe Python float that round-trips the float32 value exactly."""
    return float(np.float32(v))


# ---------------------------------------------------------------- cases
# Each case returns (arrays, info): arrays go to <case>.npz, info to index.json.


def case_mlp():
    fresh()
    x, y = mlp_data()
    init = init_weights(MLP_SHAPES, MLP_SEED)
    model = mlp_model()
    model.set_weights(init)
    arrays = {"x": x, "y": y, **weight_list(model, "init")}
    arrays["predict"] = model.predict(x, verbose=0)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    results = []
    for step in (1, 2, 3):
        r = model.train_on_batch(x[:10], y[:10])
        results.append([to_float(v) for v in r])
        arrays[f"step{step}_result"] = as_f32(r)
        arrays.update(weight_list(model, f"step{step}"))
    arrays["predict_after"] = model.predict(x, verbose=0)
    info = {
        "metrics_names": list(model.metrics_names),
        "train_on_batch": results,
        "compiled_metrics": compiled_metrics(model),
        "test_on_batch_dict_after": logs_in_order(model, x[:10], y[:10]),
        "train_on_batch_x": "x[:10]",
        "train_on_batch_y": "y[:10]",
        **model_info(model),
    }
    return arrays, info


def case_mlp_adam():
    fresh()
    x, y = mlp_data()
    model = mlp_model()
    model.set_weights(init_weights(MLP_SHAPES, MLP_SEED))
    arrays = {"x": x, "y": y, **weight_list(model, "init")}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy"
    )
    results = []
    for step in (1, 2, 3):
        r = model.train_on_batch(x[:10], y[:10])
        results.append(to_float(r))
        arrays[f"step{step}_result"] = as_f32(r)
        arrays.update(weight_list(model, f"step{step}"))
    info = {
        "metrics_names": list(model.metrics_names),
        "train_on_batch": results,
        "returned_type": type(r).__name__,
        "test_on_batch_dict_after": logs_in_order(model, x[:10], y[:10]),
        "train_on_batch_x": "x[:10]",
        "train_on_batch_y": "y[:10]",
        **model_info(model),
    }
    return arrays, info


def case_mlp_fit():
    fresh()
    x, y = mlp_data()
    model = mlp_model()
    model.set_weights(init_weights(MLP_SHAPES, MLP_SEED))
    arrays = {"x": x, "y": y, **weight_list(model, "init")}
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    epoch_weights = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epoch_weights.append(model.get_weights())
    )
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        validation_split=0.25,
        verbose=0,
        callbacks=[record],
    )
    for key, values in history.history.items():
        arrays[f"history_{key}"] = np.asarray(values, dtype=np.float32)
    for e, ws in enumerate(epoch_weights):
        arrays.update({f"epoch{e + 1}_w{i}": np.asarray(w, np.float32) for i, w in enumerate(ws)})
    arrays.update(weight_list(model, "final"))
    info = {
        "history": {k: [to_float(v) for v in vs] for k, vs in history.history.items()},
        "history_keys": list(history.history.keys()),
        "history_params": dict(history.params),
        "history_epoch": list(history.epoch),
        "metrics_names": list(model.metrics_names),
        "compiled_metrics": compiled_metrics(model),
        "note": "validation_split=0.25 -> train on x[:15] (batches of 8 and 7), "
        "validate on x[15:]; epoch<k>_w* are the weights at the end of epoch k",
        **model_info(model),
    }
    return arrays, info


FUNCTIONAL_SHAPES = [(7, 8), (8,), (8, 2), (2,), (8, 3), (3,)]


def functional_model():
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    h = layers.Dense(8, activation="tanh", name="shared")(layers.Concatenate()([a, b]))
    out1 = layers.Dense(2, name="reg")(h)
    out2 = layers.Dense(3, activation="softmax", name="cls")(h)
    return keras.Model([a, b], [out1, out2])


def case_functional():
    fresh()
    rng = np.random.default_rng(200)
    xa = rng.normal(size=(6, 4)).astype(np.float32)
    xb = rng.normal(size=(6, 3)).astype(np.float32)
    y_reg = rng.normal(size=(6, 2)).astype(np.float32)
    y_cls = rng.integers(0, 3, size=(6,)).astype(np.int32)
    model = functional_model()
    info = model_info(model)  # before set_weights: the order kerasish must reproduce
    model.set_weights(init_weights(FUNCTIONAL_SHAPES, 2))
    arrays = {"xa": xa, "xb": xb, "y_reg": y_reg, "y_cls": y_cls, **weight_list(model, "init")}
    p_reg, p_cls = model.predict([xa, xb], verbose=0)
    arrays["predict_reg"], arrays["predict_cls"] = p_reg, p_cls
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
    )
    info["metrics_names_after_compile"] = list(model.metrics_names)
    results = []
    for step in (1, 2):
        r = model.train_on_batch([xa, xb], [y_reg, y_cls])
        results.append([to_float(v) for v in r] if isinstance(r, (list, tuple)) else to_float(r))
        arrays[f"step{step}_result"] = as_f32(r)
        arrays.update(weight_list(model, f"step{step}"))
    info.update(
        {
            "train_on_batch": results,
            "returned_type": type(r).__name__,
            "metrics_names": list(model.metrics_names),
            "test_on_batch_dict_after": logs_in_order(model, [xa, xb], [y_reg, y_cls]),
            "outputs": ["reg", "cls"],
        }
    )
    return arrays, info


def small_binary_model():
    return keras.Sequential(
        [
            keras.Input((5,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def binary_data():
    """x: (12, 5) float32 normal; y: (12, 1) float32 in {0, 1} (seed 300)."""
    rng = np.random.default_rng(300)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=(12, 1)).astype(np.float32)
    return x, y


def run_binary(loss):
    fresh()
    x, y = binary_data()
    model = small_binary_model()
    model.set_weights(init_weights([(5, 4), (4,), (4, 1), (1,)], 3))
    arrays = {"x": x, "y": y, **weight_list(model, "init")}
    arrays["predict"] = model.predict(x, verbose=0)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.2), loss=loss, metrics=["accuracy"]
    )
    results = []
    for step in (1, 2):
        r = model.train_on_batch(x, y)
        results.append([to_float(v) for v in r])
        arrays[f"step{step}_result"] = as_f32(r)
        arrays.update(weight_list(model, f"step{step}"))
    info = {
        "metrics_names": list(model.metrics_names),
        "train_on_batch": results,
        "compiled_metrics": compiled_metrics(model),
        "test_on_batch_dict_after": logs_in_order(model, x, y),
        **model_info(model),
    }
    return arrays, info


def case_bce():
    return run_binary("binary_crossentropy")


def case_mse():
    return run_binary("mse")


def case_evaluate():
    fresh()
    x, y = mlp_data()
    model = mlp_model()
    model.set_weights(init_weights(MLP_SHAPES, MLP_SEED))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    for _ in range(3):  # the same 3 steps as case `mlp`
        model.train_on_batch(x[:10], y[:10])
    arrays = {"x": x, "y": y, **weight_list(model, "weights")}
    d = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    lst = model.evaluate(x, y, batch_size=7, verbose=0)
    # Check for the record: the batch mean weighted by batch size (7, 7, 6)
    # equals the mean over all 20 samples.
    p = model.predict(x, verbose=0)
    per_sample = -np.log(p[np.arange(len(y)), y].astype(np.float64))
    arrays["evaluate_list"] = as_f32(lst)
    for k, v in d.items():
        arrays[f"evaluate_{k}"] = as_f32(v)
    info = {
        "evaluate_return_dict": [[k, to_float(v)] for k, v in d.items()],
        "evaluate_list": [to_float(v) for v in lst],
        "metrics_names": list(model.metrics_names),
        "numpy_mean_loss_over_20_samples": float(per_sample.mean()),
        "numpy_accuracy_over_20_samples": float((p.argmax(-1) == y).mean()),
        "note": "weights_w* are the mlp case's step3_w*; batches of 7, 7, 6",
        **model_info(model),
    }
    return arrays, info


CASES = {
    "mlp": case_mlp,
    "mlp_adam": case_mlp_adam,
    "mlp_fit": case_mlp_fit,
    "functional": case_functional,
    "bce": case_bce,
    "mse": case_mse,
    "evaluate": case_evaluate,
}

# Functions whose source is shown with each case (so a reader sees what was run).
SHARED_SOURCE = [
    init_weights,
    mlp_model,
    mlp_data,
    functional_model,
    small_binary_model,
    binary_data,
    run_binary,
]


# ---------------------------------------------------------------- writing


def normalize(arrays):
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        if v.dtype.kind == "f":
            v = v.astype(np.float32)
        elif v.dtype.kind in "iu":
            v = v.astype(np.int32)
        out[k] = v
    return out


def versions():
    import h5py

    return {
        **golden_io.versions(),
        "h5py": h5py.__version__,
        "backend": keras.backend.backend(),
        "floatx": keras.backend.floatx(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    index = {
        "description": "Golden values recorded from real Keras by tools/keras_goldens/record.py; "
        "arrays in <case>.npz. Initial weights are made with numpy "
        "(see shared_source.init_weights) and stored as init_w*.",
        "versions": versions(),
        "shared_source": {f.__name__: inspect.getsource(f) for f in SHARED_SOURCE},
        "cases": {},
    }
    for name, fn in CASES.items():
        arrays, info = fn()
        arrays = normalize(arrays)
        write_npz(os.path.join(args.out, f"{name}.npz"), arrays)
        index["cases"][name] = {
            "file": f"{name}.npz",
            "code": inspect.getsource(fn),
            "arrays": {
                k: {"shape": list(arrays[k].shape), "dtype": str(arrays[k].dtype)}
                for k in sorted(arrays)
            },
            **info,
        }
        print(f"{name}: {len(arrays)} arrays")
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print("versions:", json.dumps(index["versions"]))


if __name__ == "__main__":
    main()
