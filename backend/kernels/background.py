"""Compiling a known model's kernels in a second process while this one compiles its own.

Numba compiles one kernel at a time per process (a global lock), and a cold first training
step spends nearly all its time compiling. On a machine with a second core, a helper process
can compile the kernels this process will need later in the same step, and write them into
the shared kernel cache, where this process's dispatchers find them (a dispatcher reads the
cache's index again before each compile).

Which kernels come next is known for the models in `first_steps.json` (recorded by
`tools/record_first_steps.py`): for each, the kernels (module, name, argument types) its first
training step compiles, in the order it compiles them, then those its first evaluation and
prediction compile. When this process first compiles (after a cache miss) a kernel listed
there (by that model only), `start` launches the helper with the kernels that follow it in
that model's list: the first step's from its end backwards (this process works forwards, so
the two meet in the middle), then the later ones in order. Nothing starts for a kernel no
model lists, with one CPU, without a kernel cache, or with `KERASISH_BACKGROUND_COMPILE=0`.

The helper says on its stdout which kernel it compiles; a compile here of the same kernel
waits for it (`wait_if_busy`) and then loads it from the cache, instead of compiling it a
second time. Everything compiled is the same either way: same source, same flags, same
cache entries as a compile in this process (the helper is this package in a fresh
interpreter with this process's environment).
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "first_steps.json")

_lock = threading.Condition()
_state: dict = {"started": False, "proc": None, "busy": None}
_manifest: dict | None = None


def enabled() -> bool:
    """Whether a helper process may start: a kernel cache to share, more than one CPU, and
    `KERASISH_BACKGROUND_COMPILE` not "0"."""
    from .. import config

    if os.environ.get("KERASISH_BACKGROUND_COMPILE", "1").strip() == "0":
        return False
    if not config.jit_options()["cache"]:
        return False
    return config._default_num_threads() > 1


def key_of(dispatcher, args) -> str:
    """The manifest's key for one kernel specialization: `module:name:(argument types)`."""
    func = dispatcher.py_func
    return f"{func.__module__}:{func.__name__}:{tuple(args)}"


def manifest() -> dict:
    """The recorded models: {model: {"first_step": [key, ...], "later": [key, ...]}}."""
    global _manifest
    if _manifest is None:
        try:
            with open(MANIFEST) as f:
                _manifest = json.load(f)
        except (OSError, ValueError):
            _manifest = {}
    return _manifest


def plan_for(key: str) -> list:
    """The keys the helper compiles once this process starts compiling `key`: the rest of
    the first step of the model listing it, last first, then its later kernels. Empty when
    no model lists `key`, or more than one does (a kernel many models use, such as a
    fused update, says nothing of which model this is: a later one will)."""
    models = [m for m in manifest().values() if key in m.get("first_step", [])]
    if len(models) != 1:
        return []
    first, later = models[0]["first_step"], models[0].get("later", [])
    rest = first[first.index(key) + 1 :]
    return rest[::-1] + [k for k in later if k not in rest]


def start(dispatcher, args) -> bool:
    """Launches the helper (once per process) when `dispatcher`'s specialization for `args`
    is in a recorded model's first step; whether it did."""
    with _lock:
        if _state["started"]:
            return False
        keys = plan_for(key_of(dispatcher, args))
        if not keys or not enabled():
            return False
        _state["started"] = True
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["KERASISH_BACKGROUND_COMPILE"] = "0"  # the helper starts no helper
        _numba_environment(env)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from backend.kernels import background; background.main()"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            return False
        proc.stdin.write(json.dumps(keys))
        proc.stdin.close()
        _state["proc"] = proc
    threading.Thread(target=_follow, args=(proc,), daemon=True).start()
    atexit.register(_stop, proc)
    return True


def _numba_environment(env: dict) -> None:
    """Gives `env` (the helper's environment) the settings this process's Numba compiles
    with: its cache folder and its target CPU (set before Numba was imported, or Numba's
    defaults when something imported it first), so the helper's cache entries are ones this
    process loads."""
    import numba

    env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR or env.get("NUMBA_CACHE_DIR", "")
    for name, value in (("NUMBA_CPU_NAME", numba.config.CPU_NAME),
                        ("NUMBA_CPU_FEATURES", numba.config.CPU_FEATURES)):  # fmt: skip
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    if not numba.config.CPU_FEATURES:
        env["KERASISH_WIDE_VECTORS"] = "0"  # Numba's default features, as here


def _follow(proc) -> None:
    """Reads the helper's "begin KEY" / "end KEY" lines into `_state["busy"]`."""
    for line in proc.stdout:
        word, _, key = line.rstrip("\n").partition(" ")
        with _lock:
            _state["busy"] = key if word == "begin" else None
            _lock.notify_all()
    proc.wait()
    with _lock:
        _state["busy"] = None
        _lock.notify_all()


def _stop(proc) -> None:
    """At exit: the helper stops too (a kernel it was compiling is compiled next time)."""
    if proc.poll() is None:
        proc.terminate()


#: The longest wait for the helper's compile of one kernel (seconds): past it, this process
#: compiles the kernel itself, so a helper that hangs never stops training.
MAX_WAIT = 300.0


def wait_if_busy(dispatcher, args) -> bool:
    """Waits while the helper compiles this specialization (at most `MAX_WAIT`); whether it
    did."""
    if _state["proc"] is None:
        return False
    key = key_of(dispatcher, args)
    deadline = time.monotonic() + MAX_WAIT
    waited = False
    with _lock:
        while _state["busy"] == key and time.monotonic() < deadline:
            waited = True
            _lock.wait(min(0.5, max(0.0, deadline - time.monotonic())))
    return waited


def helper_process():
    """The running helper's `Popen`, or None."""
    return _state["proc"]


# --- the helper process ---------------------------------------------------------------------------


def _dispatcher(module_name: str, name: str):
    """The kernel `name` of `module_name`: a module of `backend.kernels`, or a generated fused
    kernel whose source this process's parent already wrote into the cache."""
    if module_name.startswith("kerasish_generated."):
        from ..compiler import fusion

        path = fusion._generated_dir() / f"{name}.py"
        if not path.exists():
            return None
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, name, None)


def _types(text: str) -> tuple:
    """Argument types from their `str` (as in a key)."""
    from numba.core import types

    names = {k: getattr(types, k) for k in dir(types) if not k.startswith("_")}
    names["bool"] = types.boolean
    return eval(text, {"__builtins__": {}}, names)  # noqa: S307 - our own manifest


def main() -> None:
    """The helper: compiles (or loads, if already cached) each key read from stdin, saying
    on stdout which one it is busy with. A key that no longer resolves is skipped."""
    from .. import kernels  # noqa: F401  (sets Numba's cache dir and CPU features up first)

    for key in json.loads(sys.stdin.read()):
        module_name, name, text = key.split(":", 2)
        try:
            dispatcher = _dispatcher(module_name, name)
            args = _types(text)
        except Exception:  # noqa: BLE001 - a stale entry only costs the compile it saved
            continue
        if dispatcher is None or not hasattr(dispatcher, "compile"):
            continue
        print("begin " + key, flush=True)
        try:
            dispatcher.compile(args)
        except Exception:  # noqa: BLE001
            pass
        print("end " + key, flush=True)
