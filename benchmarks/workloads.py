"""The benchmark's workloads, and how each framework runs them.

A workload is one model and one thing timed on it (`fit`, `predict`, single-sample calls, ...).
The Keras-API side is written once (`KerasRunner`): the worker passes it either
`import kerasish as keras` or Keras 3 (`KERAS_BACKEND=jax`), and the same code builds, checks
and times both. `TorchRunner` is PyTorch's equivalent on the same shapes and weights.

Each runner exposes `rows`: a dict of row name -> a callable that does one repeat's work and
returns how many units (samples or calls) it did. `check()` returns numbers to compare across
frameworks before timing, and `warm_up()` runs everything once, untimed (traces, compiles, JIT).
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
from dataclasses import dataclass

import common
import numpy as np

CHECK_SAMPLES = 64  # predictions compared across frameworks before timing
LOOP_BATCH = 32  # the predict-loop workload's batch


@dataclass(frozen=True)
class Workload:
    name: str
    model: str  # the module defining the model: mlp, convnet, cifar, lstm
    kind: str  # fit, predict, single, predict-loop, step
    batch: int
    batches: int  # batches per repeat (fit, predict)
    quick_batches: int  # the same with --quick
    title: str
    train_check: bool = False  # compare two train_on_batch losses (models without dropout)
    default: bool = True  # in the default run

    def flops_per_unit(self, model_module) -> float:
        """FLOPs of one unit of work: a sample (fit: 3x the forward), or a call."""
        if self.kind == "fit":
            return 3.0 * model_module.forward_flops(1)
        if self.kind == "step":
            return 3.0 * model_module.forward_flops(self.batch)
        if self.kind in ("single", "predict-loop"):
            return model_module.forward_flops(self.batch)
        return model_module.forward_flops(1)

    @property
    def unit(self) -> str:
        return "samples" if self.kind in ("fit", "predict") else "calls"


WORKLOADS = {
    w.name: w
    for w in (
        Workload("mlp-fit", "mlp", "fit", 128, 80, 8, "MLP 784-512-512-10 fit", True),
        Workload("mlp-predict", "mlp", "predict", 1024, 16, 2, "MLP 784-512-512-10 predict"),
        Workload("mnist-fit", "convnet", "fit", 128, 40, 4, "MNIST convnet fit"),
        Workload("mnist-predict", "convnet", "predict", 512, 16, 2, "MNIST convnet predict"),
        Workload("cifar-fit", "cifar", "fit", 64, 10, 2, "CIFAR residual convnet fit", True),
        Workload("lstm-fit", "lstm", "fit", 32, 40, 4, "Embedding + LSTM(64) fit", True),
        Workload("lstm-predict", "lstm", "predict", 256, 8, 1, "Embedding + LSTM(64) predict"),
        Workload("single", "mlp", "single", 1, 0, 0, "MLP single sample"),
        Workload("predict-loop", "mlp", "predict-loop", LOOP_BATCH, 0, 0, "MLP predict, 32"),
        Workload(
            "mlp-step", "mlp", "step", 128, 0, 0, "MLP raw training step (SGD)", default=False
        ),
    )
}

# A row PyTorch times once for several of ours: it has no `training=` argument and no
# predict_on_batch, so `model(x)` under inference_mode is the peer of all three.
TORCH_EQUIVALENT = {"model(x, training=False)": "model(x)", "predict_on_batch": "model(x)"}


def peer_row(row: str, peer_rows) -> str | None:
    """The peer's row that `row` of ours is compared with, or None."""
    if row in peer_rows:
        return row
    equivalent = TORCH_EQUIVALENT.get(row)
    return equivalent if equivalent in peer_rows else None


def model_module(work: Workload):
    return importlib.import_module(work.model)


def _warm(call, warmup_s: float) -> None:
    """Runs `call` for about `warmup_s` (at least 3 calls), untimed."""
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < warmup_s:
        call()
        n += 1


class CallLoop:
    """One repeat of a call-loop row: `call`, a fixed number of times. The number is set in
    the first timed repeat, when the other workers wait for their turn: its calls are timed
    one by one for a quarter of `target_s`, and the repeat makes as many calls as the median
    call fits in `target_s` (a burst of load over part of the quarter does not shorten every
    repeat). A count probed in the warm-up came out tens of times too small: the workers warm
    up at once, each call then ran 40 ms instead of 0.9 (two BLAS thread pools on two cores),
    and a repeat of 12 calls left the first calls after the pause between turns (caches and
    threads cold) weighing on the figure."""

    def __init__(self, call, target_s: float):
        self.call = call
        self.target_s = target_s
        self.count: int | None = None

    def __call__(self) -> int:
        call = self.call
        done = 0
        if self.count is None:
            clock = time.perf_counter
            times = []
            start = clock()
            while len(times) < 3 or clock() - start < self.target_s / 4:
                t0 = clock()
                call()
                times.append(clock() - t0)
            done = len(times)
            per_call = max(statistics.median(times), 1e-9)
            self.count = max(done, math.ceil(self.target_s / per_call))
        for _ in range(self.count - done):
            call()
        return self.count


class Runner:
    """What both runners share: the data, the sample counts, the warm-up of the call loops."""

    def __init__(self, work: Workload, quick: bool, target_s: float):
        self.work = work
        self.module = model_module(work)
        self.quick = quick
        self.target_s = target_s
        batches = work.quick_batches if quick else work.batches
        self.samples = work.batch * batches
        self.rows: dict = {}
        self._loops: dict = {}  # row name -> the single call it repeats (set at warm-up)

    def data(self, seed: int):
        return self.module.dataset(self.samples, seed)

    def warm_up(self) -> float:
        t0 = time.perf_counter()
        for name, call in self._loops.items():
            _warm(call, 0.1 if self.quick else 0.5)
            self.rows[name] = CallLoop(call, self.target_s)
        for name, run in self.rows.items():
            if name not in self._loops:
                run()
        return time.perf_counter() - t0


class KerasRunner(Runner):
    """A workload through the Keras API: `keras` is `kerasish` or Keras 3."""

    def __init__(self, keras, work: Workload, *, ours: bool, quick: bool, target_s: float):
        super().__init__(work, quick, target_s)
        self.keras = keras
        mod = self.module
        if work.kind == "step":
            raise NotImplementedError("Keras 3 has no GradientTape: the raw step is ours only")
        self.model = mod.keras_model(keras)
        specs = mod.weight_specs()
        found = [(w.name.split("/")[-1], tuple(w.shape)) for w in self.model.weights]
        if found != [(n, tuple(s)) for n, s in specs]:
            raise RuntimeError(f"{work.model}: model weights {found} differ from {specs}")
        self.model.set_weights(common.initial_weights(specs))
        model, batch = self.model, work.batch
        if work.kind == "fit":
            x, y = self.data(1)

            def fit():
                model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
                return len(x)

            self.rows["fit"] = fit
        elif work.kind == "predict":
            xp, _ = self.data(2)

            def predict():
                model.predict(xp, batch_size=batch, verbose=0)
                return len(xp)

            self.rows["predict"] = predict
        elif work.kind == "single":
            x1 = np.ascontiguousarray(mod.dataset(1, 2)[0])
            sync = _sync_for(keras)
            self._loops = {
                "model(x)": lambda: sync(model(x1)),
                "model(x, training=False)": lambda: sync(model(x1, training=False)),
                "predict_on_batch": lambda: model.predict_on_batch(x1),
            }
        elif work.kind == "predict-loop":
            x32 = np.ascontiguousarray(mod.dataset(batch, 2)[0])
            self._loops = {"predict": lambda: model.predict(x32, verbose=0)}
            if ours:
                self._loops["numpy forward"] = numpy_forward(model.get_weights(), x32)

    def check(self) -> dict:
        model, mod, batch = self.model, self.module, self.work.batch
        xc, _ = mod.dataset(CHECK_SAMPLES, 3)
        out = {"predict": np.asarray(model.predict(xc, batch_size=CHECK_SAMPLES, verbose=0))}
        if self.work.kind == "single":
            for name, call in {
                "model(x)": lambda: model(xc[:1]),
                "model(x, training=False)": lambda: model(xc[:1], training=False),
                "predict_on_batch": lambda: model.predict_on_batch(xc[:1]),
            }.items():
                out[name] = np.asarray(call())
        if self.work.train_check:
            x, y = mod.dataset(2 * batch, 4)
            steps = [(x[i : i + batch], y[i : i + batch]) for i in (0, batch)]
            out["losses"] = np.array([float(model.train_on_batch(xb, yb)) for xb, yb in steps])
        return out


def _sync_for(keras):
    """Waits for a call's result: JAX dispatches asynchronously, ours and torch return done."""
    if keras.config.backend() == "jax":
        return lambda out: out.block_until_ready()
    return lambda out: out


def numpy_forward(weights: list, x: np.ndarray):
    """The MLP's forward pass in plain numpy into preallocated buffers (BLAS GEMMs, in-place
    bias adds and relus): what the compute of a `predict` on `x` costs on this machine."""
    kernels, biases = weights[0::2], weights[1::2]
    buffers = [np.empty((len(x), k.shape[1]), dtype=np.float32) for k in kernels]

    def forward():
        h = x
        for i, (kernel, bias, out) in enumerate(zip(kernels, biases, buffers, strict=True)):
            np.matmul(h, kernel, out=out)
            out += bias
            if i < len(kernels) - 1:
                np.maximum(out, 0.0, out=out)
            h = out
        return h

    return forward


class TorchRunner(Runner):
    """PyTorch's equivalent of a workload, on the same shapes and initial weights."""

    def __init__(self, torch, work: Workload, *, quick: bool, target_s: float):
        super().__init__(work, quick, target_s)
        self.torch = torch
        mod = self.module
        if work.kind == "step":
            import mlp

            self.step = mlp.TorchStep(work.batch)
            self._loops = {"step": self.step}
            return
        self.weights = common.initial_weights(mod.weight_specs())
        self.model = mod.torch_model(self.weights)
        self.to_torch = getattr(mod, "torch_input", np.asarray)
        model = self.model
        if work.kind == "fit":
            x, y = self.data(1)
            trainer = TorchTrainer(torch, model, x=self.to_torch(x), y=y, binary=_binary(mod))
            self.rows["fit"] = lambda: trainer.epoch(work.batch)
            return
        model.eval()
        if work.kind == "predict":
            xp = torch.from_numpy(self.to_torch(self.data(2)[0]))

            def predict():
                self.predict(xp)
                return len(xp)

            self.rows["predict"] = predict
            return
        x = torch.from_numpy(self.to_torch(mod.dataset(work.batch, 2)[0]))

        def call():
            with torch.inference_mode():
                return model(x)

        if work.kind == "single":
            self._loops = {"model(x)": call}
        else:  # predict-loop: Keras' predict returns numpy, so torch's does too
            self._loops = {"predict": lambda: call().numpy()}

    def predict(self, x) -> np.ndarray:
        """`model(x)` batch by batch under inference_mode, as our `predict` returns it."""
        torch, output = self.torch, getattr(self.module, "torch_output", None)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), self.work.batch):
                out = self.model(x[i : i + self.work.batch])
                outs.append(output(torch, out) if output else out)
            return torch.cat(outs).numpy()

    def check(self) -> dict:
        torch, mod, batch = self.torch, self.module, self.work.batch
        if self.work.kind == "step":
            return {"losses": np.array([self.step(), self.step()])}
        xc, _ = mod.dataset(CHECK_SAMPLES, 3)
        self.model.eval()
        out = {"predict": self.predict(torch.from_numpy(self.to_torch(xc)))}
        if self.work.kind == "single":
            out["model(x)"] = self.predict(torch.from_numpy(self.to_torch(xc[:1])))
        if self.work.train_check:
            # A fresh copy: the check's Adam differs from the timed one (epsilon, below).
            model = mod.torch_model(self.weights)
            x, y = mod.dataset(2 * batch, 4)
            trainer = TorchTrainer(
                torch, model, x=self.to_torch(x), y=y, binary=_binary(mod), keras_epsilon=True
            )
            out["losses"] = np.array(trainer.losses(batch))
        if self.work.kind == "fit":
            self.model.train()
        return out


def _binary(mod) -> bool:
    return getattr(mod, "BINARY", False)


class TorchTrainer:
    """PyTorch's equivalent of `model.fit(x, y, batch_size, epochs=1, shuffle=True)`: a fresh
    `randperm` each epoch, minibatches indexed out of tensors built beforehand,
    `zero_grad(set_to_none=True)`, forward, loss, backward, `Adam.step()`, the epoch's mean
    loss read at its end (as Keras' History has it)."""

    def __init__(self, torch, model, *, x, y, binary: bool, keras_epsilon: bool = False):
        """`keras_epsilon=True` (the agreement check only, never timed) makes torch's Adam
        step exactly Keras': Keras adds epsilon to sqrt(v) before the bias correction,
        PyTorch after it, so each step sets torch's eps to epsilon / sqrt(1 - beta_2**t).
        `binary=True` trains one logit per sample against float 0/1 labels
        (`BCEWithLogitsLoss`), else class logits against integer labels
        (`CrossEntropyLoss`)."""
        self.torch = torch
        self.model = model
        self.x = torch.from_numpy(x)
        if binary:
            self.y = torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
            self.loss_fn = torch.nn.BCEWithLogitsLoss()
        else:
            self.y = torch.from_numpy(y.astype(np.int64))
            self.loss_fn = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=common.ADAM_LEARNING_RATE, eps=common.ADAM_EPSILON
        )
        self.generator = torch.Generator().manual_seed(0)
        self.keras_epsilon = keras_epsilon
        self.steps_done = 0

    def _step(self, xb, yb):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        if self.keras_epsilon:
            self.steps_done += 1
            group = self.optimizer.param_groups[0]
            group["eps"] = common.ADAM_EPSILON / (1 - group["betas"][1] ** self.steps_done) ** 0.5
        self.optimizer.step()
        return loss.detach()

    def epoch(self, batch: int) -> int:
        """One shuffled epoch; returns the number of samples trained on."""
        torch = self.torch
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.generator)
        total = torch.zeros(())
        steps = 0
        self.model.train()
        for start in range(0, n, batch):
            index = order[start : start + batch]
            total += self._step(self.x[index], self.y[index])
            steps += 1
        float(total) / steps  # noqa: B018 - the mean loss, read as Keras' History reads it
        return n

    def losses(self, batch: int) -> list[float]:
        """The loss of each batch of one epoch in order (no shuffling)."""
        self.model.train()
        return [
            float(self._step(self.x[i : i + batch], self.y[i : i + batch]))
            for i in range(0, self.x.shape[0], batch)
        ]


class StepRunner(Runner):
    """Ours for the raw training step: the MLP step written with ops and a GradientTape,
    compiled into a Plan (`mlp.KerasishStep`)."""

    def __init__(self, work: Workload, *, quick: bool, target_s: float):
        super().__init__(work, quick, target_s)
        import mlp

        self.step = mlp.KerasishStep(work.batch, compiled=True)
        self._loops = {"step": self.step}

    def check(self) -> dict:
        return {"losses": np.array([self.step(), self.step()])}
