"""Damaged and hostile files by the hundred: saved models and weights are mutated
(truncated, bytes flipped, datasets and attributes deleted or rewritten with other shapes,
dtypes or garbage, archive members dropped or rewritten, configs edited to name arbitrary
classes and modules or to hold Lambda layers with code) with a fixed seed, and loaded by
worker processes that each take many files.

Every load must either give back the saved weights, optimizer state and predictions (a
warning may say the optimizer state was skipped), or raise a ValueError or OSError that
names the file; no load may import a module or run code a file names. A worker that dies
(a crash inside libhdf5) or takes more than 5 s over one file is replaced at the next file;
such events are counted and reported with the file, and the test fails unless the
innermost frame at the crash or hang was inside h5py (libhdf5's own failure, not ours).

The default run makes 1,000 mutations (about 20 s on 2 idle cores); the full run of 5,000 is
selected with `pytest -m fuzz_full`. `KERASISH_FUZZ_MUTATIONS` overrides either count.
"""

import base64
import contextlib
import io
import json
import marshal
import os
import re
import select
import subprocess
import sys
import time
import warnings
import zipfile
import zlib

import h5py
import numpy as np
import pytest

import kerasish as keras
from kerasish import layers

SEED = 20240611
DEFAULT_MUTATIONS, FULL_MUTATIONS = 1000, 5000
WORKERS = 2
LOAD_SECONDS = 5
SENTINEL = "fuzz_sentinel"  # a module beside the files: importing it leaves a mark
DEEP = "<a deeply nested config>"

WORKER = r"""
import faulthandler, json, os, sys, warnings
faulthandler.enable()
import numpy as np
import kerasish as keras

folder, seconds = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, folder)  # a module a file names could be imported from here: it must not
expected = np.load(f"{folder}/expected.npz")
weights = [expected[f"w{i}"] for i in range(int(expected["n_weights"]))]
optimizer = [expected[f"o{i}"] for i in range(int(expected["n_optimizer"]))]
x, y = expected["x"], expected["y"]
architecture = open(f"{folder}/architecture.json").read()

def same(values, reference):
    return len(values) == len(reference) and all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(values, reference))

def load(path, kind):
    if kind == "model":
        return keras.models.load_model(path)
    model = keras.models.model_from_json(architecture)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.optimizer.build(model.trainable_weights)
    model.load_weights(path)
    return model

for base, kind in json.load(open(f"{folder}/bases.json")).items():  # warm up, untimed
    load(f"{folder}/{base}", kind).predict(x, verbose=0)
print("ready", flush=True)
for line in sys.stdin:
    path, kind = line.rstrip("\n").split("\t")
    faulthandler.dump_traceback_later(seconds, exit=True)
    result = {"path": path}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load(path, kind)
        result["warnings"] = [str(w.message) for w in caught]
        result["weights"] = same(model.get_weights(), weights)
        result["optimizer"] = kind == "weights only" or same(
            [v.numpy() for v in model.optimizer.variables], optimizer)
        result["predictions"] = bool(np.allclose(model.predict(x, verbose=0), y,
                                                 rtol=1e-6, atol=1e-7))
        result["outcome"] = "loaded"
    except (ValueError, OSError) as err:
        result.update(outcome="error", type=type(err).__name__, message=str(err)[:500])
    except BaseException as err:
        result.update(outcome="unexpected", type=type(err).__name__, message=str(err)[:500])
    faulthandler.cancel_dump_traceback_later()
    mark = f"{folder}/ran-{os.getpid()}"
    result["executed"] = "SENTINEL" in sys.modules or os.path.exists(mark)
    if result["executed"]:  # cleared, so that the next file is judged on its own
        sys.modules.pop("SENTINEL", None)
        if os.path.exists(mark):
            os.remove(mark)
    print(json.dumps(result), flush=True)
""".replace("SENTINEL", SENTINEL)


def _base_files(folder):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,), dtype="int32")
    x = layers.LSTM(4)(layers.Embedding(12, 3)(inputs))
    x = layers.BatchNormalization()(layers.Dense(6, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(2)(x))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, 12, (8, 5)), rng.standard_normal((8, 2)), verbose=0)
    model.save(folder / "base.h5")
    model.save(folder / "base.keras")
    model.save_weights(folder / "base.weights.h5")
    model.save_weights(folder / "base_weights.h5")
    weights = model.get_weights()
    optimizer = [v.numpy() for v in model.optimizer.variables]
    x = rng.integers(0, 12, (6, 5))
    np.savez(folder / "expected.npz", n_weights=len(weights), n_optimizer=len(optimizer),
             x=x, y=model.predict(x, verbose=0),
             **{f"w{i}": w for i, w in enumerate(weights)},
             **{f"o{i}": o for i, o in enumerate(optimizer)})  # fmt: skip
    (folder / "architecture.json").write_text(model.to_json())
    # Were a loader to import the module a file names, or run a Lambda's code, it would
    # leave a file `ran-<pid>` behind.
    (folder / f"{SENTINEL}.py").write_text(_marking_code(folder))
    bases = {"base.h5": "model", "base.keras": "model", "base.weights.h5": "weights",
             "base_weights.h5": "weights only"}  # fmt: skip
    (folder / "bases.json").write_text(json.dumps(bases))
    return bases


# ---- mutations -------------------------------------------------------------------------------


def _truncate(data, rng):
    return data[: int(rng.integers(0, len(data)))]


def _flip(data, rng):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def _objects(f):
    found = [("/", f)]
    f.visititems(lambda name, obj: found.append((name, obj)))
    return found


def _garbage(rng):
    choices = [b"\xff\xfe", "x" * int(rng.integers(0, 50)), int(rng.integers(-5, 10**6)),
               np.arange(3.0), json.dumps({"class_name": "Dense", "config": {"units": -1}}),
               np.array([b"dense", b"missing"]), "{"]  # fmt: skip
    return choices[int(rng.integers(0, len(choices)))]


def _h5_structural(data, rng):
    """Rewrites one object of an HDF5 file (in memory) with h5py."""
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as f:
        objects = _objects(f)
        datasets = [(n, o) for n, o in objects if isinstance(o, h5py.Dataset)]
        with_attrs = [(n, o) for n, o in objects if len(o.attrs)]
        action = int(rng.integers(0, 6))
        if action == 0 and datasets:
            name, _ = datasets[int(rng.integers(0, len(datasets)))]
            del f[name]
        elif action == 1 and with_attrs:
            _, obj = with_attrs[int(rng.integers(0, len(with_attrs)))]
            keys = list(obj.attrs)
            del obj.attrs[keys[int(rng.integers(0, len(keys)))]]
        elif action == 2 and with_attrs:
            _, obj = with_attrs[int(rng.integers(0, len(with_attrs)))]
            keys = list(obj.attrs)
            obj.attrs[keys[int(rng.integers(0, len(keys)))]] = _garbage(rng)
        elif datasets:
            name, dataset = datasets[int(rng.integers(0, len(datasets)))]
            values = dataset[()]
            attrs = dict(dataset.attrs)
            del f[name]
            if action == 3:  # another shape
                shape = tuple(int(d) + int(rng.integers(1, 3)) for d in np.shape(values)) or (2,)
                f.create_dataset(name, data=np.zeros(shape, "float32"))
            elif action == 4:  # another dtype: text, or the same values in float64
                if rng.random() < 0.5:
                    f.create_dataset(name, data=np.full(np.shape(values), b"abc"))
                else:
                    f.create_dataset(name, data=np.asarray(values, "float64"))
            else:  # a group where a dataset was
                f.create_group(name)
            for key, value in attrs.items():
                if isinstance(f[name], h5py.Dataset):
                    f[name].attrs[key] = value
    return buffer.getvalue()


def _marking_code(folder):
    return f"import os; open({str(folder)!r} + f'/ran-{{os.getpid()}}', 'w').close()\n"


def _hostile_layer(layer, folder, rng):
    """Rewrites one layer config of a model config as an attacker might."""
    code = base64.b64encode(marshal.dumps(compile(_marking_code(folder), "f", "exec")))
    sentinel_function = {"module": SENTINEL, "class_name": "function", "config": "boom",
                         "registered_name": "boom"}  # fmt: skip
    action = int(rng.integers(0, 6))
    if action == 0:  # another class, by name or dotted path
        names = ["os.system", "subprocess.Popen", "builtins.eval", "__import__", "Boom",
                 f"{SENTINEL}.Boom", "Model", "Sequential", "Dense"]  # fmt: skip
        layer["class_name"] = names[int(rng.integers(0, len(names)))]
    elif action == 1:  # the layer's module and registered name point at a module on the path
        layer["module"] = SENTINEL
        layer["registered_name"] = f"{SENTINEL}>{layer.get('class_name')}"
    elif action == 2:  # an activation or initializer that is a function of that module
        key = "activation" if rng.random() < 0.5 else "kernel_initializer"
        layer.setdefault("config", {})[key] = sentinel_function
    elif action == 3:  # a Lambda layer with marshalled code (Keras 3 and Keras 2 forms)
        function = ({"class_name": "__lambda__", "config": {"code": code.decode(),
                     "defaults": None, "closure": None}} if rng.random() < 0.5
                    else [code.decode(), None, None])  # fmt: skip
        layer["class_name"] = "Lambda"
        layer["config"] = {**layer.get("config", {}), "function": function,
                           "function_type": "lambda", "module": "builtins"}  # fmt: skip
    elif action == 4:  # a Lambda naming a function of a module
        layer["class_name"] = "Lambda"
        layer["config"] = {**layer.get("config", {}), "function": sentinel_function}
    else:  # a config nested thousands deep (spliced in as text: json.dumps would refuse)
        layer["config"] = DEEP if rng.random() < 0.5 else [DEEP, "x"]
    return layer


def _deep(levels):
    return '{"class_name": "Sequential", "config": {"layers": [' * levels + "{}" + "]}}" * levels


def _edit_model_config(config, folder, rng):
    layer_list = config.get("config", {}).get("layers", [])
    if layer_list and rng.random() < 0.8:
        _hostile_layer(layer_list[int(rng.integers(0, len(layer_list)))], folder, rng)
    else:
        _hostile_layer(config, folder, rng)
    return json.dumps(config, default=repr).replace(f'"{DEEP}"', _deep(int(rng.integers(1, 3000))))


def _h5_config_edit(data, folder, rng):
    """An edited `model_config`; half the time the checksum is forged to match."""
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as f:
        text = _edit_model_config(json.loads(f.attrs["model_config"]), folder, rng)
        f.attrs["model_config"] = text
        if rng.random() < 0.5:
            sums = json.loads(f.attrs["kerasish_checksums"])
            sums["model_config"] = zlib.crc32(text.encode())
            f.attrs["kerasish_checksums"] = json.dumps(sums)
    return buffer.getvalue()


def _zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zipped(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in members.items():
            archive.writestr(name, value)
    return buffer.getvalue()


def _zip_structural(data, folder, rng):
    members = _zip_members(data)
    action = int(rng.integers(0, 5))
    if action == 0:
        del members[list(members)[int(rng.integers(0, len(members)))]]
    elif action == 1:  # the inner weights file damaged, the archive itself consistent
        members["model.weights.h5"] = _mutate_bytes(members["model.weights.h5"], rng, True)
    elif action == 2:
        config = json.loads(members["config.json"])
        layer = config["config"]["layers"][int(rng.integers(0, len(config["config"]["layers"])))]
        key = list(layer["config"])[int(rng.integers(0, len(layer["config"])))]
        layer["config"][key] = _garbage(rng) if rng.random() < 0.5 else None
        members["config.json"] = json.dumps(config, default=lambda v: repr(v)).encode()
    elif action == 3:
        config = json.loads(members["config.json"])
        members["config.json"] = _edit_model_config(config, folder, rng).encode()
    else:
        members["config.json"] = _flip(members["config.json"], rng)
    return _zipped(members)


def _mutate_bytes(data, rng, hdf5):
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return _truncate(data, rng)
    if kind == 1 or not hdf5:
        return _flip(data, rng)
    return _h5_structural(data, rng)


def _mutations(folder, bases, count):
    rng = np.random.default_rng(SEED)
    files = []
    names = sorted(bases)
    for i in range(count):
        base = names[i % len(names)]
        data = (folder / base).read_bytes()
        if base.endswith(".keras") and rng.random() < 0.5:
            mutated = _zip_structural(data, folder, rng)
        elif base == "base.h5" and rng.random() < 0.25:
            mutated = _h5_config_edit(data, folder, rng)
        else:
            mutated = _mutate_bytes(data, rng, not base.endswith(".keras"))
        suffix = base[len("base") :]
        path = folder / f"m{i:04d}{suffix}"
        path.write_bytes(mutated)
        files.append((str(path), bases[base]))
    return files


# ---- workers ---------------------------------------------------------------------------------


class Worker:
    """A process loading the files it is sent, one JSON line of result per file."""

    def __init__(self, folder, seconds=LOAD_SECONDS):
        self.folder, self.seconds = folder, seconds
        self.stderr = open(folder / f"worker-{time.monotonic_ns()}.err", "w+")
        root = os.path.dirname(os.path.dirname(keras.__file__))
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder), str(seconds)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip
        ready, _, _ = select.select([self.process.stdout], [], [], 300)
        line = self.process.stdout.readline().strip() if ready else ""
        assert line == "ready", self.trace()
        self.task = None

    def send(self, path, kind):
        self.task = (path, time.monotonic())
        self.process.stdin.write(f"{path}\t{kind}\n")
        self.process.stdin.flush()

    def trace(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def dead(self):
        """The result for the file this worker died or hung on; the worker is ended."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        trace = self.trace()
        hang = "Timeout" in trace or self.process.returncode == -9
        frames = re.findall(r'File "([^"]+)"', trace.rsplit("most recent call first", 1)[-1])
        return {"path": self.task[0], "outcome": "hang" if hang else "crash",
                "returncode": self.process.returncode, "innermost": frames[0] if frames else "",
                "trace": trace[-3000:]}  # fmt: skip

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(30)
        for pipe in (self.process.stdin, self.process.stdout, self.stderr):
            with contextlib.suppress(OSError):  # a dead worker's stdin: nothing left to flush
                pipe.close()


def _run(folder, files, workers=WORKERS, seconds=LOAD_SECONDS):
    results = []
    workers = [Worker(folder, seconds) for _ in range(workers)]
    pending = list(reversed(files))
    try:
        while pending or any(w.task for w in workers):
            for worker in workers:
                if worker.task is None and pending:
                    worker.send(*pending.pop())
            busy = {w.process.stdout: i for i, w in enumerate(workers) if w.task}
            ready, _, _ = select.select(list(busy), [], [], 0.5)
            for i in [busy[stream] for stream in ready] + [
                i for i, w in enumerate(workers)  # stuck past faulthandler's own timeout
                if w.task and time.monotonic() - w.task[1] > seconds + 10
            ]:  # fmt: skip
                worker = workers[i]
                if worker.task is None:
                    continue
                line = worker.process.stdout.readline().strip() if worker.process.stdout in (
                    ready) else ""  # fmt: skip
                if line:
                    results.append(json.loads(line))
                    worker.task = None
                    continue
                results.append(worker.dead())
                worker.close()
                workers[i] = Worker(folder, seconds)  # replaced, ready for the next file
    finally:
        for worker in workers:
            worker.close()
    return results


def _fuzz(folder, count):
    bases = _base_files(folder)
    files = _mutations(folder, bases, count)
    started = time.monotonic()
    results = _run(folder, files)
    # A load past 5 s on a machine shared with other work is not yet a hang: such files
    # are loaded again, one at a time with a minute each, and judged by that load.
    hung = {r["path"] for r in results if r["outcome"] == "hang"}
    if hung:
        again = _run(folder, [f for f in files if f[0] in hung], workers=1, seconds=60)
        results = [r for r in results if r["path"] not in hung] + again
    seconds = time.monotonic() - started
    assert sorted(r["path"] for r in results) == sorted(path for path, _ in files)
    wrong, unclear, ours, native, executed = [], [], [], [], []
    for r in results:
        name = os.path.basename(r["path"])
        if r.get("executed"):
            executed.append(name)
        if r["outcome"] == "loaded":
            optimizer_skipped = any("skipping variable loading" in w for w in r["warnings"])
            if not (r["weights"] and r["predictions"] and (r["optimizer"] or optimizer_skipped)):
                wrong.append(name)
        elif r["outcome"] == "error":
            if r["path"] not in r["message"]:
                unclear.append((name, r["type"], r["message"][:200]))
        elif r["outcome"] == "unexpected":
            unclear.append((name, r["type"], r["message"][:200]))
        elif "/h5py/" in r["innermost"]:
            native.append((name, r["outcome"], r["returncode"]))
        else:
            ours.append((name, r["outcome"], r["trace"]))
    counts = {k: sum(r["outcome"] == k for r in results)
              for k in ("loaded", "error", "unexpected", "crash", "hang")}  # fmt: skip
    print(
        f"\nfuzz: {count} mutations in {seconds:.0f} s: {counts}; in libhdf5: {native}; "
        f"over 5 s, then loaded again: {sorted(os.path.basename(p) for p in hung)}"
    )
    if native:
        warnings.warn(f"{len(native)} of {count} damaged files crashed or hung libhdf5 (in "
                      f"h5py): {native}", stacklevel=2)  # fmt: skip
    assert not executed, f"a load imported a module or ran code a file named: {executed}"
    assert not wrong, f"loaded with wrong weights, optimizer state or predictions: {wrong}"
    assert not unclear, f"errors that are not clear ValueError/OSError naming the file: {unclear}"
    assert not ours, f"crashes or hangs outside libhdf5: {ours}"
    assert counts["loaded"] > 0 and counts["error"] > count // 2, counts


def test_damaged_files_load_correctly_or_fail_clearly(tmp_path):
    _fuzz(tmp_path, int(os.environ.get("KERASISH_FUZZ_MUTATIONS", DEFAULT_MUTATIONS)))


@pytest.mark.fuzz_full
def test_damaged_files_full_run(tmp_path, request):
    if "fuzz_full" not in (request.config.option.markexpr or ""):
        pytest.skip("the full fuzz run is selected with `-m fuzz_full`")
    _fuzz(tmp_path, int(os.environ.get("KERASISH_FUZZ_MUTATIONS", FULL_MUTATIONS)))
