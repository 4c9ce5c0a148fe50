"""Records `backend/kernels/first_steps.json`: for each model of `benchmarks/startup.py` (the
MNIST convnet, the MLP), the kernels its first training step compiles from an empty cache, in
the order it compiles them, then those the rest of a short fit with validation, `evaluate`
and `predict` compile, with the sources of the generated ones.
`backend/kernels/background.py` reads it to compile a model's next kernels in a second
process.

    python tools/record_first_steps.py            # rewrites backend/kernels/first_steps.json

Each model runs in a fresh process with a new, empty `KERASISH_CACHE_DIR`. Run it again after
a change to the kernels a model uses (a stale entry costs nothing but the compile it saved).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "backend", "kernels", "first_steps.json")
MARKER = "KERASISH_FIRST_STEPS "


def child(what: str) -> dict:
    """In the fresh process: the top-level compiles of the engine's kernels, by phase."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import numpy as np
    import startup

    import kerasish as keras
    from backend.kernels import background

    recorded = {"first_step": [], "later": []}
    phase = ["first_step"]
    depth = [0]

    import numba

    class Listener(numba.core.event.Listener):
        def on_start(self, event):
            depth[0] += 1
            dispatcher = event.data.get("dispatcher")
            if depth[0] != 1 or not hasattr(dispatcher, "py_func"):
                return
            module = dispatcher.py_func.__module__
            if module.startswith(("backend.kernels.", "kerasish_generated.")):
                key = background.key_of(dispatcher, event.data["args"])
                if key not in recorded["first_step"] and key not in recorded["later"]:
                    recorded[phase[0]].append(key)

        def on_end(self, event):
            depth[0] -= 1

    numba.core.event.register("numba:compile", Listener())

    class Phase(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            phase[0] = "later"

    model, shape = (startup._mlp if what == "mlp" else startup._convnet)(keras)
    rng = np.random.default_rng(0)
    samples = 4 * startup.BATCH
    x = rng.random((samples, *shape), dtype=np.float32)
    labels = rng.integers(0, 10, samples)
    y = labels if what == "mlp" else np.eye(10, dtype=np.float32)[labels]
    model.fit(x, y, batch_size=startup.BATCH, epochs=1, validation_split=0.25, verbose=0,
              callbacks=[Phase()])  # fmt: skip
    model.evaluate(x, y, batch_size=startup.BATCH, verbose=0)
    model.predict(x, batch_size=512, verbose=0)
    # Generated kernels' sources, so the helper can write one this process has not yet.
    keys = recorded["first_step"] + recorded["later"]
    generated = [k.split(":")[0] for k in keys if k.startswith("kerasish_generated.")]
    recorded["sources"] = {}
    for module in generated:
        with open(sys.modules[module].__file__) as f:
            recorded["sources"][module.split(".", 1)[1]] = f.read()
    return recorded


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(MARKER + json.dumps(child(sys.argv[2])), flush=True)
        return 0
    recorded = {}
    for what in ("convnet", "mlp"):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, KERASISH_CACHE_DIR=cache, KERASISH_BACKGROUND_COMPILE="0")
            env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(":")
            proc = subprocess.run([sys.executable, __file__, "--child", what], env=env,
                                  capture_output=True, text=True, check=True)  # fmt: skip
        line = next(x for x in proc.stdout.splitlines() if x.startswith(MARKER))
        recorded[what] = json.loads(line[len(MARKER) :])
        print(f"{what}: {len(recorded[what]['first_step'])} first-step kernels, "
              f"{len(recorded[what]['later'])} later")  # fmt: skip
    with open(OUT, "w") as f:
        json.dump(recorded, f, indent=1)
        f.write("\n")
    print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
