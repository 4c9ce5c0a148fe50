"""Checkpoints and backups survive SIGKILL.

1. A process overwrites a checkpoint in a loop (a BackupAndRestore backup, `save_weights`
   to `.weights.h5`, `save` to `.keras` and to `.h5`) and is killed with SIGKILL, many times
   at random moments (mostly while it writes): the file always loads, as one whole version.
   The writers are forked from one prepared process, so a round costs milliseconds.
2. A `fit` with `BackupAndRestore` (Dropout, BatchNormalization, shuffled batches) is killed
   mid-epoch and run again: it resumes at the batch of its last backup and ends with the same
   weights and optimizer state, bit for bit, as a run that was never interrupted.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish.callbacks import BackupAndRestore, backup_files
from kerasish.saving.atomic import remove_stale_temporaries

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

ROOT = Path(__file__).resolve().parents[3]

# The model both scripts and the checks build: Dense, BatchNormalization, Dropout, Adam.
MODEL = """
import numpy as np
import kerasish as keras

def make_model():
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""

# Forks a writer per request, `<kind> <path> <first version>` -> the writer's pid, which writes
# versions first + 1, first + 2, ... until killed, and prints "saved" after its first save;
# `reap` -> waits for it.
WRITERS = (
    MODEL
    + '''
import os, signal, sys, time
from kerasish.callbacks import BackupAndRestore

model = make_model()
model.optimizer.build(model.trainable_weights)

def fill(version):
    """Every variable of the model and the optimizer set to `version`."""
    for v in model.weights + model.optimizer.variables:
        v.assign(np.full(v.shape, version, v.dtype))

def write_forever(kind, path, first):
    version = first
    backup = BackupAndRestore(path, save_freq=1)
    backup.set_model(model)
    deadline = time.monotonic() + 60  # a writer nobody kills stops by itself
    while time.monotonic() < deadline:
        version += 1
        fill(version)
        if kind == "backup":
            backup.write_backup(version, 0, {"callbacks": {}, "version": version})
        elif kind == "weights":
            model.save_weights(path)
        else:  # a whole model, .keras or .h5
            model.save(path)
        if version == first + 1:
            print("saved", flush=True)  # once: the kill comes during a later save

pid = None
for line in sys.stdin:
    if line.strip() == "reap":
        os.waitpid(pid, 0)
        pid = None
        print("reaped", flush=True)
        continue
    kind, path, first = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            write_forever(kind, path, int(first))
        finally:
            os._exit(0)
    print(pid, flush=True)
if pid is not None:  # the test stopped between a fork and its kill
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
'''
)

# Trains with BackupAndRestore; run again after a crash, it resumes. Prints the first
# (epoch, batch) it trained and its History; writes the weights and optimizer variables.
TRAINING = (
    MODEL
    + """
import json, sys, time

backup_dir, out, kind, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
keras.utils.set_random_seed(7)
rng = np.random.default_rng(0)
x = rng.normal(size=(120, 6)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int32")

class Batches(keras.utils.PyDataset):
    def __len__(self):
        return 15

    def __getitem__(self, index):
        return x[8 * index : 8 * index + 8], y[8 * index : 8 * index + 8]

class Trace(keras.callbacks.Callback):
    first = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.first is None:
            self.first = [self.epoch, batch]
        time.sleep(pause)  # so that a kill lands mid-epoch

model = make_model()
trace = Trace()
callbacks = [
    keras.callbacks.BackupAndRestore(backup_dir, save_freq=4),
    keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=10.0),
    keras.callbacks.EarlyStopping(monitor="loss", patience=3, min_delta=10.0),
    trace,
]
data = (x, y) if kind == "arrays" else (Batches(workers=2),)
history = model.fit(*data, batch_size=8, epochs=5, shuffle=True, verbose=0, callbacks=callbacks)
np.savez(out, *(model.get_weights() + [v.numpy() for v in model.optimizer.variables]))
print(json.dumps({"first": trace.first, "epochs": history.epoch,
                  "loss": history.history["loss"], "lr": history.history["learning_rate"]}))
"""
)


def python(script: Path, *args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)], env=env, text=True, **kwargs
    )


def wait_for_backup(directory: Path, process, after_epoch: int, mid_epoch: bool = False):
    """Waits until the run has backed up in epoch `after_epoch` or later (inside it, past
    its first batch, with `mid_epoch`); returns (epoch, step) of that backup, or None if the
    run ended first."""
    deadline = time.monotonic() + 600  # generous: an empty kernel cache means compiling
    while process.poll() is None:
        assert time.monotonic() < deadline, "no backup appeared"
        where = backup_files.read_position(str(directory / backup_files.STATE))
        if where is not None and where[0] >= after_epoch and (where[1] > 0 or not mid_epoch):
            return where[:2]
        time.sleep(0.005)
    return None


@pytest.fixture(scope="module")
def writers(tmp_path_factory):
    """The process that forks the writers (one for every kind of file)."""
    script = tmp_path_factory.mktemp("writers") / "writers.py"
    script.write_text(WRITERS)
    zygote = python(script, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    yield zygote
    zygote.stdin.close()
    zygote.wait(timeout=30)
    zygote.stdout.close()


def read_version(kind: str, path: Path, model) -> int:
    """Loads what a killed writer left at `path` and returns its version, checking that every
    variable holds that one version (a whole file, not a mixture)."""
    if kind == "backup":
        backup = BackupAndRestore(path)
        backup.set_model(model)
        backup.on_train_begin()  # reads the backup; removes what the killed writer left
        point = backup.restored
        point.load_variables(model)
        version = point.state["version"]
        assert point.epoch == version
        variables = model.weights + model.optimizer.variables
    elif kind == "weights":
        model.load_weights(path)  # the optimizer's variables too
        variables = model.weights + model.optimizer.variables
    else:
        variables = keras.models.load_model(path).weights
    version = int(variables[0].numpy().flat[0])
    for v in variables:
        np.testing.assert_array_equal(v.numpy(), np.full(v.shape, version, v.dtype))
    return version


# The smallest number of kills expected to land inside a write: a `.keras` save spends most
# of its time building the config, before its file is opened.
@pytest.mark.parametrize(
    "kind, name, cut",
    [("backup", "backup", 10), ("weights", "w.weights.h5", 10), ("keras", "m.keras", 1),
     ("h5", "m.h5", 10)],
)  # fmt: skip
def test_a_checkpoint_killed_while_being_overwritten_always_loads(
    tmp_path, writers, kind, name, cut
):
    zygote = writers
    rng = random.Random(kind)
    path = tmp_path / name
    keras.utils.set_random_seed(0)
    namespace = {}
    exec(MODEL, namespace)
    model = namespace["make_model"]()
    model.optimizer.build(model.trainable_weights)
    interrupted_writes = 0
    # 30 rounds, and more (up to 150) until `cut` kills have landed inside a write: a busy
    # machine stretches the part of a `.keras` save before its file is opened, where 27 of 30
    # kills land on a quiet one.
    rounds = 0
    while rounds < 150 and (rounds < 30 or interrupted_writes < cut):
        rounds += 1
        first = 1000 * rounds  # this round writes first + 1, first + 2, ...
        zygote.stdin.write(f"{kind} {path} {first}\n")
        zygote.stdin.flush()
        pid = int(zygote.stdout.readline())
        assert zygote.stdout.readline().strip() == "saved"
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        zygote.stdin.write("reap\n")
        zygote.stdin.flush()
        assert zygote.stdout.readline().strip() == "reaped"
        folder = path if kind == "backup" else tmp_path
        interrupted_writes += any(".tmp-" in n for n in os.listdir(folder))
        if kind != "backup":
            remove_stale_temporaries(path)
        version = read_version(kind, path, model)
        assert first < version < first + 1000  # a version this round's writer saved
        assert not any(".tmp-" in n for n in os.listdir(folder))
    print(f"{kind}: {interrupted_writes} of {rounds} kills cut a save")
    assert interrupted_writes >= cut  # kills landed in the middle of saves


@pytest.mark.parametrize("kind", ["arrays", "pydataset"])
def test_a_fit_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, kind):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    reference_dir = tmp_path / "reference"
    reference = python(script, reference_dir, tmp_path / "ref.npz", kind, 0, stdout=subprocess.PIPE)
    # With an empty kernel cache the reference compiles the kernels; the victim starts once
    # the reference is in its second epoch (or done), and loads them.
    wait_for_backup(reference_dir, reference, after_epoch=1)
    victim_dir, victim_out = tmp_path / "backup", tmp_path / "victim.npz"
    victim = python(script, victim_dir, victim_out, kind, 0.02, stdout=subprocess.PIPE)
    assert wait_for_backup(victim_dir, victim, after_epoch=1, mid_epoch=True), "it ended"
    time.sleep(random.Random(kind).uniform(0.0, 0.1))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    where = backup_files.read_position(str(victim_dir / backup_files.STATE))[:2]  # the rerun's
    assert where[1] > 0

    rerun = python(script, victim_dir, victim_out, kind, 0, stdout=subprocess.PIPE)
    resumed = json.loads(rerun.communicate(timeout=300)[0])
    expected = json.loads(reference.communicate(timeout=300)[0])
    assert rerun.returncode == 0 and reference.returncode == 0
    assert resumed["first"] == list(where)  # it resumed mid-epoch
    start = expected["epochs"].index(where[0])
    for key in ("epochs", "loss", "lr"):
        assert resumed[key] == expected[key][start:]
    got, want = np.load(victim_out), np.load(tmp_path / "ref.npz")
    assert got.files == want.files
    for name in want.files:
        np.testing.assert_array_equal(got[name], want[name])
    assert not victim_dir.exists()  # the backup is deleted once training ends
