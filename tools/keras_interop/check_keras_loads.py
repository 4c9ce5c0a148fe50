"""Checks that real Keras 3 loads kerasish's files: `model.save("m.keras")` and
`model.save("m.h5")`, compiled, with the same predictions and the optimizer state.

    PYTHONPATH=. /work/venvs/dev/bin/python tools/keras_interop/check_keras_loads.py

runs in two stages. Here (kerasish): each catalogue model (catalogue.py) is built, compiled
with Adam(0.01), trained three batches and saved both ways, with its inputs, kerasish's
predictions and its optimizer's variables; so are the tf.keras 2 files of the test fixtures,
after kerasish loaded them (a model read from a Keras 2 file and saved again). Then, in
Keras' environments (`/work/venvs/keras` on JAX; `/work/venvs/keras-tf` on TensorFlow for
the text models, whose layers need it), each file is loaded with `keras.models.load_model`
(compile=True), and checked: predictions within 1e-5 of kerasish's, the optimizer's class
and variables equal to what kerasish saved, and one `train_on_batch` runs. The table goes
to standard output; docs/saving.md records the last run. The two Keras environments run at
once, each writing a line a file to `check-<backend>.jsonl` in the folder as it goes;
`--keep DIR` keeps the files kerasish wrote, and `--reuse DIR` checks them again without
writing them anew.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
KERAS2_FILES = os.path.join(REPO, "tests", "fixtures", "keras_files", "keras2")
KERAS_ENVS = {
    "jax": "/work/venvs/keras/bin/python",
    "tensorflow": "/work/venvs/keras-tf/bin/python",
}


def _arrays(prefix, value) -> dict:
    import numpy as np

    if isinstance(value, dict):
        return {f"{prefix}_{k}": np.asarray(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {f"{prefix}{i}": np.asarray(v) for i, v in enumerate(value)}
    return {prefix: np.asarray(value)}


def _unpack(data, prefix):
    keys = sorted(k for k in data.files if k == prefix or k.startswith(prefix))
    if keys == [prefix]:
        return data[prefix]
    if all(k.startswith(f"{prefix}_") for k in keys):
        return {k[len(prefix) + 1 :]: data[k] for k in keys}
    return [data[k] for k in sorted(keys, key=lambda k: int(k[len(prefix) :]))]


def write(out: str) -> list:
    """Saves kerasish's files into `out`; returns [(file, backend)]."""
    import numpy as np
    from catalogue import MODELS, TEXT_MODELS, compile_and_train

    import kerasish as keras

    keras.utils.set_random_seed(1234)
    cases = []

    def save(name, model, x, backend):
        prediction = model.predict(x, verbose=0)
        optimizer = [v.numpy() for v in model.optimizer.variables]
        np.savez(os.path.join(out, f"{name}.io.npz"), **_arrays("x", x),
                 **_arrays("y", prediction), **_arrays("opt", optimizer))  # fmt: skip
        for suffix in (".keras", ".h5"):
            model.save(os.path.join(out, name + suffix))
            cases.append((name + suffix, backend))

    for name, (build, data, compile_kwargs) in MODELS.items():
        x, y = data(np.random.default_rng(7))
        model = compile_and_train(keras, build(keras), x, y, compile_kwargs)
        save(name, model, x, "tensorflow" if name in TEXT_MODELS else "jax")
    for path in sorted(glob.glob(os.path.join(KERAS2_FILES, "*.legacy.h5"))):
        name = "keras2_" + os.path.basename(path)[: -len(".legacy.h5")]
        io = np.load(path.replace(".legacy.h5", ".io.npz"))
        model = keras.models.load_model(path)
        save(name, model, _unpack(io, "x"), "jax")
    return cases


def check(folder: str, files: list) -> list:
    """Runs inside Keras' environment: loads each file, returns one result dict per file."""
    import warnings

    import keras
    import numpy as np

    def keras_inputs(x):
        if isinstance(x, dict):
            return {k: keras_inputs(v) for k, v in x.items()}
        if isinstance(x, list):
            return [keras_inputs(v) for v in x]
        if x.dtype.kind in "US":
            import tensorflow as tf

            return tf.constant(x)
        return x

    results = []
    for file in files:
        name = file.rsplit(".", 1)[0]
        data = np.load(os.path.join(folder, f"{name}.io.npz"))
        x, y = keras_inputs(_unpack(data, "x")), _unpack(data, "y")
        saved_optimizer = _unpack(data, "opt")
        result = {"file": file, "backend": keras.backend.backend()}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = keras.models.load_model(os.path.join(folder, file))
            result["warnings"] = sorted({str(w.message)[:120] for w in caught})
            result["compiled"] = bool(model.compiled)
            prediction = model.predict(x, verbose=0)
            pairs = zip(prediction if isinstance(prediction, list) else [prediction],
                        y if isinstance(y, list) else [y], strict=True)  # fmt: skip
            result["max_error"] = max(float(np.max(np.abs(p - q))) for p, q in pairs)
            ours = [np.asarray(v) for v in model.optimizer.variables]
            result["optimizer"] = type(model.optimizer).__name__
            result["optimizer_state"] = len(ours) == len(saved_optimizer) and all(
                a.shape == b.shape and np.allclose(a, b)
                for a, b in zip(ours, saved_optimizer, strict=True)
            )
            if file.endswith(".h5"):
                # Keras 3.15 builds the optimizer of a legacy file on no variables, so a
                # model it loads from any .h5 (its own too) trains only once recompiled;
                # its state is then lost: check the iteration count it did read.
                result["optimizer_state"] = int(model.optimizer.iterations) == int(
                    saved_optimizer[0]
                )
                model.compile(optimizer=type(model.optimizer).from_config(
                    model.optimizer.get_config()), loss=model.loss)  # fmt: skip
            model.train_on_batch(x, prediction)
            result["trains"] = True
        except Exception as err:  # a failure is a result to report, not a crash
            result["error"] = f"{type(err).__name__}: {str(err)[:300]}"
        results.append(result)
        print(json.dumps(result), flush=True)  # one line a file: a partial run shows progress
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", help="(internal) the folder to check, in Keras' venv")
    parser.add_argument("--files", nargs="*", default=[])
    parser.add_argument("--keep", help="write the files here (kept) instead of a temp folder")
    parser.add_argument("--reuse", help="check the files an earlier --keep run wrote there")
    args = parser.parse_args()
    if args.check:
        check(args.check, args.files)
        return
    if args.reuse:
        from catalogue import TEXT_MODELS

        folder = args.reuse
        names = sorted(p[: -len(".io.npz")] for p in os.listdir(folder) if p.endswith(".io.npz"))
        cases = [(n + suffix, "tensorflow" if n in TEXT_MODELS else "jax")
                 for n in names for suffix in (".keras", ".h5")]  # fmt: skip
    else:
        folder = args.keep or tempfile.mkdtemp(prefix="kerasish-interop-")
        os.makedirs(folder, exist_ok=True)
        cases = write(folder)
    runs = {}
    for backend, python in KERAS_ENVS.items():  # both Keras environments at once
        files = [f for f, b in cases if b == backend]
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": HERE}  # fmt: skip
        log = os.path.join(folder, f"check-{backend}.jsonl")  # progress, a line a file
        with open(log, "w") as out:
            runs[backend] = (log, subprocess.Popen(
                [python, __file__, "--check", folder, "--files", *files], stdout=out,
                stderr=subprocess.PIPE, text=True, env=env,
            ))  # fmt: skip
    results = []
    for backend, (log, run) in runs.items():
        _, err = run.communicate()
        if run.returncode != 0:
            sys.exit(f"Keras ({backend}) failed:\n{err[-3000:]}")
        with open(log) as lines:
            results += [json.loads(line) for line in lines if line.startswith("{")]
    failures = 0
    print(
        f"{'file':28} {'backend':10} {'compiled':8} {'max error':>10} {'optimizer':10} state trains"
    )
    for r in results:
        ok = ("error" not in r and r["compiled"] and r["max_error"] <= 1e-5
              and r["optimizer_state"] and r.get("trains"))  # fmt: skip
        failures += not ok
        if "error" in r:
            print(f"{r['file']:28} {r['backend']:10} ERROR {r['error']}")
            continue
        print(f"{r['file']:28} {r['backend']:10} {str(r['compiled']):8} {r['max_error']:10.2e} "
              f"{r['optimizer']:10} {str(r['optimizer_state']):5} {r['trains']}")  # fmt: skip
        for warning in r["warnings"]:
            print(f"    warning: {warning}")
    print(f"{len(results) - failures} of {len(results)} files load in Keras as saved.")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
