"""Start-up figures: `import kerasish`, and process start to the end of the first training
step (and of the first epoch) for the 784-512-512-10 MLP and the keras.io MNIST convnet,
with a warm kernel cache and with an empty one.

    python benchmarks/startup.py                    # every figure, 3 rounds
    python benchmarks/startup.py --rounds 5 --json /tmp/startup.json
    python benchmarks/startup.py --only convnet --no-cold
    python benchmarks/startup.py --epoch            # also the whole first epoch
    python benchmarks/startup.py --repo ../main --repo .   # two checkouts, alternating

Every figure is one fresh process, timed from just before it is spawned (so interpreter
start counts) to the moment the figure's event happened in it (wall clock on both sides),
with the process's CPU time at that moment beside it: start-up is nearly all on one thread,
so on an idle machine the two agree, and on a shared one the CPU time is the steadier figure.
"Cold" runs get `KERASISH_CACHE_DIR` pointing at a new, empty folder, so every kernel they
use is compiled; "warm" runs share one folder that a first, untimed run filled. The rounds
alternate cold and warm runs and each figure is reported as the median with its min-max.
The data is random, of MNIST's shapes; the models and training set-up are the benchmark's
(Adam, batch 128; the convnet's `validation_split=0.1` on 60,000 samples for `--epoch`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "KERASISH_STARTUP "
BATCH = 128


# --- the child process -------------------------------------------------------------------------


def _mlp(keras):
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model, (784,)


def _convnet(keras):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model, (28, 28, 1)


def child(what: str, samples: int) -> dict:
    """Runs in the fresh process; returns wall-clock times of its events."""
    events = {"started": time.time()}
    cpu = {}
    import kerasish as keras

    events["imported"] = time.time()
    cpu["imported"] = time.process_time()
    if what == "import":
        events["cpu"] = cpu
        return events
    import numpy as np

    model, shape = (_mlp if what == "mlp" else _convnet)(keras)
    rng = np.random.default_rng(0)
    x = rng.random((samples, *shape), dtype=np.float32)
    labels = rng.integers(0, 10, samples)
    y = labels if what == "mlp" else np.eye(10, dtype=np.float32)[labels]
    events["built"] = time.time()

    class Times(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                events["first_step"] = time.time()
                cpu["first_step"] = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            events["epoch"] = time.time()
            cpu["epoch"] = time.process_time()

    split = 0.1 if samples > BATCH else 0.0
    model.fit(x, y, batch_size=BATCH, epochs=1, validation_split=split, verbose=0,
              callbacks=[Times()])  # fmt: skip
    from backend import kernels

    events["signatures"] = kernels.compiled_signature_count()
    events["cpu"] = cpu
    return events


# --- the parent --------------------------------------------------------------------------------


def run(what: str, cache_dir: str, samples: int, repo: str = ROOT, pycache: str = "") -> dict:
    """One fresh process on the kerasish checkout `repo`; its events as seconds since just
    before it was spawned. With `pycache`, Python's bytecode is cached in that folder (as for
    an installed package, whose .pyc files are written when it is installed), even when
    PYTHONDONTWRITEBYTECODE is set here."""
    env = dict(os.environ, KERASISH_CACHE_DIR=cache_dir)
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYTHONPATH"] = os.pathsep.join([repo, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", what, "--samples", str(samples)]
    spawned = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            events = json.loads(line[len(MARKER) :])
            break
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{what} child failed ({proc.returncode}): " + " | ".join(tail))
    out = {k: v - spawned for k, v in events.items() if k not in ("signatures", "cpu")}
    out.update({f"{k}_cpu": v for k, v in events.get("cpu", {}).items()})
    out["import_in_process"] = events["imported"] - events["started"]
    if "signatures" in events:
        out["signatures"] = events["signatures"]
    return out


def _cache_files(path: str) -> int:
    return sum(name.endswith(".nbc") for _, _, names in os.walk(path) for name in names)


def spread(values: list) -> str:
    if not values:
        return "n/a"
    return (
        f"{statistics.median(values):6.2f} s  ({min(values):.2f}-{max(values):.2f}, "
        f"n={len(values)})"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("import", "mlp", "convnet"), action="append")
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache runs")
    parser.add_argument(
        "--epoch",
        action="store_true",
        help="train a whole first epoch (60,000 samples) instead of one batch",
    )
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="no .pyc cache for the children (every import compiles sources)",
    )
    parser.add_argument(
        "--repo",
        action="append",
        help="a kerasish checkout to measure (default: this one); several alternate",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=BATCH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(MARKER + json.dumps(child(args.child, args.samples)), flush=True)
        return 0

    workloads = args.only or ["import", "mlp", "convnet"]
    repos = args.repo or [ROOT]
    samples = 60_000 if args.epoch else BATCH
    root = tempfile.mkdtemp(prefix="kerasish-startup-")
    results: dict = {r: {w: {"warm": [], "cold": []} for w in workloads} for r in repos}
    compiled: dict = {r: {} for r in repos}
    try:
        warm = {r: os.path.join(root, f"warm{i}") for i, r in enumerate(repos)}
        pycache = {
            r: "" if args.no_bytecode else os.path.join(root, f"pycache{i}")
            for i, r in enumerate(repos)
        }
        for repo in repos:  # fills the warm caches (and the bytecode caches), untimed
            for what in workloads:
                run(what, warm[repo], BATCH, repo, pycache[repo])
        for _ in range(args.rounds):  # the checkouts alternate within each round
            for what in workloads:
                for repo in repos:
                    rows = results[repo][what]
                    rows["warm"].append(run(what, warm[repo], samples, repo, pycache[repo]))
                    print(f"({repo} {what} warm: {json.dumps(rows['warm'][-1])})", flush=True)
                    if args.no_cold or what == "import":
                        continue
                    cold = tempfile.mkdtemp(dir=root, prefix="cold-")
                    rows["cold"].append(run(what, cold, samples, repo, pycache[repo]))
                    print(f"({repo} {what} cold: {json.dumps(rows['cold'][-1])})", flush=True)
                    compiled[repo][what] = _cache_files(cold)
                    shutil.rmtree(cold, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for repo in repos:
        print(f"{repo}: seconds from process spawn (median, min-max over {args.rounds} rounds)")
        report(results[repo], compiled[repo], args.epoch)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": args.rounds, "samples": samples, "results": results,
                       "compiled": compiled}, f, indent=1)  # fmt: skip
        print(f"written to {args.json}")
    return 0


def report(results: dict, compiled: dict, epoch: bool) -> None:
    for what, by_cache in results.items():
        for cache in ("warm", "cold"):
            rows = by_cache[cache]
            if not rows:
                continue
            if what == "import":
                in_process = spread([r["import_in_process"] for r in rows])
                print(f"  import kerasish, in process          {in_process}")
                with_interpreter = spread([r["imported"] for r in rows])
                print(f"  import kerasish, with interpreter    {with_interpreter}")
                cpu = spread([r["imported_cpu"] for r in rows])
                print(f"    its CPU time (interpreter included) {cpu}")
                continue
            label = f"{what} ({cache} cache)"
            print(f"  {label:22s} first step done     {spread([r['first_step'] for r in rows])}")
            cpu = [r["first_step_cpu"] for r in rows]
            print(f"  {'':22s}   its CPU time       {spread(cpu)}")
            if epoch:
                print(f"  {label:22s} first epoch done    {spread([r['epoch'] for r in rows])}")
                print(f"  {'':22s}   its CPU time       {spread([r['epoch_cpu'] for r in rows])}")
            extra = f"{rows[0]['signatures']} kernel signatures loaded"
            if cache == "cold":
                extra += f", {compiled.get(what, 0)} compiled into the cache"
            print(f"  {'':22s} ({extra})")


if __name__ == "__main__":
    sys.exit(main())
