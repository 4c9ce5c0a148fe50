"""Damaged files by the hundred: saved models and weights are mutated (truncated, bytes
flipped, datasets and attributes deleted or rewritten with other shapes, dtypes or garbage,
archive members dropped or rewritten) with a fixed seed, and loaded by worker processes.

Every load must either give back exactly the saved weights and optimizer state (a warning
may say the optimizer state was skipped), or raise a ValueError or OSError that names the
file. A worker that dies (a crash inside libhdf5 or another C library) or hangs is
restarted at the next file; such events are counted and reported with the file that caused
them, and the test fails if the crash did not happen inside h5py.

`KERASISH_FUZZ_MUTATIONS` sets the number of mutations (300 by default).
"""

import io
import json
import os
import select
import subprocess
import sys
import time
import warnings
import zipfile

import h5py
import numpy as np

import kerasish as keras
from kerasish import layers

SEED = 20240611
MUTATIONS = int(os.environ.get("KERASISH_FUZZ_MUTATIONS", "300"))
WORKERS = 2
HANG_SECONDS = 30

WORKER = r"""
import faulthandler, json, sys, warnings
faulthandler.enable()
import numpy as np
import kerasish as keras

folder = sys.argv[1]
expected = np.load(f"{folder}/expected.npz")
weights = [expected[f"w{i}"] for i in range(int(expected["n_weights"]))]
optimizer = [expected[f"o{i}"] for i in range(int(expected["n_optimizer"]))]
architecture = open(f"{folder}/architecture.json").read()

def same(values, reference):
    return len(values) == len(reference) and all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(values, reference))

print("ready", flush=True)
for line in sys.stdin:
    path, kind = line.rstrip("\n").split("\t")
    faulthandler.dump_traceback_later(%(hang)d, exit=True)
    result = {"path": path}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if kind == "model":
                model = keras.models.load_model(path)
            else:
                model = keras.models.model_from_json(architecture)
                model.compile(keras.optimizers.Adam(0.01), "mse")
                model.optimizer.build(model.trainable_weights)
                model.load_weights(path)
        result["warnings"] = [str(w.message) for w in caught]
        result["weights"] = same(model.get_weights(), weights)
        result["optimizer"] = kind == "weights only" or same(
            [v.numpy() for v in model.optimizer.variables], optimizer)
        result["outcome"] = "loaded"
    except (ValueError, OSError) as err:
        result.update(outcome="error", type=type(err).__name__, message=str(err)[:500])
    except BaseException as err:
        result.update(outcome="unexpected", type=type(err).__name__, message=str(err)[:500])
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(result), flush=True)
""" % {"hang": HANG_SECONDS}


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
    np.savez(folder / "expected.npz", n_weights=len(weights), n_optimizer=len(optimizer),
             **{f"w{i}": w for i, w in enumerate(weights)},
             **{f"o{i}": o for i, o in enumerate(optimizer)})  # fmt: skip
    (folder / "architecture.json").write_text(model.to_json())
    return {"base.h5": "model", "base.keras": "model", "base.weights.h5": "weights",
            "base_weights.h5": "weights only"}  # fmt: skip


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


def _zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zipped(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in members.items():
            archive.writestr(name, value)
    return buffer.getvalue()


def _zip_structural(data, rng):
    members = _zip_members(data)
    action = int(rng.integers(0, 4))
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


def _mutations(folder, bases):
    rng = np.random.default_rng(SEED)
    files = []
    names = sorted(bases)
    for i in range(MUTATIONS):
        base = names[i % len(names)]
        data = (folder / base).read_bytes()
        if base.endswith(".keras") and rng.random() < 0.5:
            mutated = _zip_structural(data, rng)
        else:
            mutated = _mutate_bytes(data, rng, not base.endswith(".keras"))
        suffix = base[len("base") :]
        path = folder / f"m{i:04d}{suffix}"
        path.write_bytes(mutated)
        files.append((str(path), bases[base]))
    return files


# ---- workers ---------------------------------------------------------------------------------


class Worker:
    def __init__(self, folder):
        self.folder = folder
        self.stderr = open(folder / f"worker-{time.monotonic_ns()}.err", "w+")
        root = os.path.dirname(os.path.dirname(keras.__file__))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get(
            "PYTHONPATH")]))}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env,
        )  # fmt: skip
        assert self._line(120) == "ready"

    def _line(self, timeout):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().strip() if ready else None

    def load(self, path, kind):
        self.process.stdin.write(f"{path}\t{kind}\n")
        self.process.stdin.flush()
        line = self._line(HANG_SECONDS + 30)
        if line:
            return json.loads(line)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stderr.seek(0)
        trace = self.stderr.read()
        hang = "Timeout" in trace or line is None and self.process.returncode == -9
        return {"path": path, "outcome": "hang" if hang else "crash",
                "returncode": self.process.returncode, "trace": trace[-4000:]}  # fmt: skip

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(30)
        self.stderr.close()


def _run(folder, files):
    results = []
    workers = [Worker(folder) for _ in range(WORKERS)]
    pending = list(files)
    busy = {}
    try:
        while pending or busy:
            for i, worker in enumerate(workers):
                if i not in busy and pending:
                    path, kind = pending.pop(0)
                    worker.process.stdin.write(f"{path}\t{kind}\n")
                    worker.process.stdin.flush()
                    busy[i] = (path, kind, time.monotonic())
            streams = {workers[i].process.stdout: i for i in busy}
            ready, _, _ = select.select(list(streams), [], [], 1.0)
            for stream in ready:
                i = streams[stream]
                line = stream.readline().strip()
                path, kind, _ = busy.pop(i)
                if line:
                    results.append(json.loads(line))
                    continue
                results.append(_dead(workers[i], path))
                workers[i].close()
                workers[i] = Worker(folder)
            for i, (path, kind, started) in list(busy.items()):
                if time.monotonic() - started > HANG_SECONDS + 30:
                    workers[i].process.kill()
                    results.append(_dead(workers[i], path))
                    workers[i].close()
                    workers[i] = Worker(folder)
                    del busy[i]
    finally:
        for worker in workers:
            worker.close()
    return results


def _dead(worker, path):
    worker.process.wait()
    worker.stderr.seek(0)
    trace = worker.stderr.read()
    hang = "Timeout" in trace or worker.process.returncode == -9
    return {"path": path, "outcome": "hang" if hang else "crash",
            "returncode": worker.process.returncode, "trace": trace[-4000:]}  # fmt: skip


def test_damaged_files_load_correctly_or_fail_clearly(tmp_path):
    started = time.monotonic()
    bases = _base_files(tmp_path)
    files = _mutations(tmp_path, bases)
    results = _run(tmp_path, files)
    assert len(results) == len(files)
    wrong, unclear, native = [], [], []
    for r in results:
        name = os.path.basename(r["path"])
        if r["outcome"] == "loaded":
            optimizer_skipped = any("skipping variable loading" in w for w in r["warnings"])
            if not r["weights"] or not (r["optimizer"] or optimizer_skipped):
                wrong.append(name)
        elif r["outcome"] == "error":
            if r["path"] not in r["message"]:
                unclear.append((name, r["type"], r["message"][:200]))
        elif r["outcome"] == "unexpected":
            unclear.append((name, r["type"], r["message"][:200]))
        else:
            native.append((name, r["outcome"], r["returncode"], r["trace"]))
    counts = {k: sum(r["outcome"] == k for r in results)
              for k in ("loaded", "error", "unexpected", "crash", "hang")}  # fmt: skip
    if native:
        warnings.warn(
            f"{len(native)} of {len(files)} damaged files crashed or hung a worker inside a C "
            f"library: {[(n, o, c) for n, o, c, _ in native]}",
            stacklevel=1,
        )
    assert not wrong, f"loaded with wrong data: {wrong}"
    assert not unclear, f"errors that are not clear ValueError/OSError naming the file: {unclear}"
    for name, outcome, _, trace in native:
        assert "h5py" in trace, f"{name}: a {outcome} outside h5py:\n{trace}"
    assert counts["loaded"] > 0 and counts["error"] > MUTATIONS // 2, counts
    assert time.monotonic() - started < 120
