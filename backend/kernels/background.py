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
the two meet in the middle), then the later ones in order; a generated kernel this process
has not written yet (an update in place is generated on its first call) is written from its
recorded source. Nothing starts for a kernel no
model lists, with one CPU, without a kernel cache, or with `KERASISH_BACKGROUND_COMPILE=0`.
With more CPUs, more helpers (one per CPU beyond this process's, at most `MAX_HELPERS`) share
that list.

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
# busy: helper id -> its kernel; readers: the threads following the helpers' output
_state: dict = {"started": False, "procs": [], "busy": {}, "readers": []}
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
    """The recorded models: {model: {"first_step": [key, ...], "later": [key, ...],
    "sources": {generated kernel's name: its source}}}."""
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


#: The most helper processes one process starts (one per CPU beyond the first, up to this).
MAX_HELPERS = 3


def helpers_wanted() -> int:
    """How many helpers `start` launches: one per CPU this process may use beyond its own,
    at most `MAX_HELPERS`."""
    from .. import config

    return max(0, min(MAX_HELPERS, config._default_num_threads() - 1))


def start(dispatcher, args) -> bool:
    """Launches the helpers (once per process) when `dispatcher`'s specialization for `args`
    is in a recorded model's first step; whether it did. With several helpers, helper i
    takes every n-th kernel of the plan from the i-th, so together they still work from the
    end of the first step."""
    with _lock:
        if _state["started"]:
            return False
        keys = plan_for(key_of(dispatcher, args))
        if not keys or not enabled():
            return False
        _state["started"] = True
        n = min(helpers_wanted(), len(keys))
        for i in range(n):
            proc = _spawn(keys[i::n])
            if proc is not None:
                _state["procs"].append(proc)
        return bool(_state["procs"])


def _spawn(keys: list):
    """A helper process compiling `keys`, followed by a thread; None if it cannot start."""
    # This very package: a `-c` interpreter puts its working folder first on sys.path, where
    # another `backend` (a second checkout, the user's own package) may be.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import sys; sys.path.insert(0, {root!r}); from backend.kernels import background; "
    env = dict(os.environ)
    env["KERASISH_BACKGROUND_COMPILE"] = "0"  # a helper starts no helper
    _numba_environment(env)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", code + "background.main()"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    except OSError:
        return None
    proc.stdin.write(json.dumps(keys))
    proc.stdin.close()
    reader = threading.Thread(target=_follow, args=(proc,), daemon=True)
    reader.start()
    _state["readers"].append(reader)
    atexit.register(_stop, proc)
    return proc


def _numba_environment(env: dict) -> None:
    """Gives `env` (the helper's environment) the settings this process's Numba compiles
    with: its cache folder and its target CPU (set before Numba was imported, or Numba's
    defaults when something imported it first), so the helper's cache entries are ones this
    process loads."""
    import numba

    env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR or env.get("NUMBA_CACHE_DIR", "")
    if env.get("KERASISH_CACHE_DIR", "").strip():  # generated kernels' folder, as here
        env["KERASISH_CACHE_DIR"] = os.path.abspath(os.path.expanduser(env["KERASISH_CACHE_DIR"]))
    for name, value in (("NUMBA_CPU_NAME", numba.config.CPU_NAME),
                        ("NUMBA_CPU_FEATURES", numba.config.CPU_FEATURES)):  # fmt: skip
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    if not numba.config.CPU_FEATURES:
        env["KERASISH_WIDE_VECTORS"] = "0"  # Numba's default features, as here


def _follow(proc) -> None:
    """Reads a helper's "begin KEY" / "end KEY" lines into `_state["busy"]` (by helper)."""
    with proc.stdout:  # closed at the helper's end, not left to the garbage collector
        for line in proc.stdout:
            word, _, key = line.rstrip("\n").partition(" ")
            with _lock:
                if word == "begin":
                    _state["busy"][id(proc)] = key
                else:
                    _state["busy"].pop(id(proc), None)
                _lock.notify_all()
    proc.wait()
    with _lock:
        _state["busy"].pop(id(proc), None)
        _lock.notify_all()


def _stop(proc) -> None:
    """At exit: the helper stops too (a kernel it was compiling is compiled next time)."""
    if proc.poll() is None:
        proc.terminate()


def stop_helpers() -> None:
    """Stops every helper now and waits for the threads reading their output to end (a
    test measuring this process's allocations counts only its own code then). A kernel a
    helper was compiling is compiled here when next needed."""
    for proc in helper_processes():
        _stop(proc)
        proc.wait()
    for reader in list(_state["readers"]):
        reader.join()


#: The longest wait for the helper's compile of one kernel (seconds): past it, this process
#: compiles the kernel itself, so a helper that hangs never stops training.
MAX_WAIT = 300.0


def wait_if_busy(dispatcher, args) -> bool:
    """Waits while the helper compiles this specialization (at most `MAX_WAIT`); whether it
    did."""
    if not _state["procs"]:
        return False
    key = key_of(dispatcher, args)
    deadline = time.monotonic() + MAX_WAIT
    waited = False
    with _lock:
        while key in _state["busy"].values() and time.monotonic() < deadline:
            waited = True
            _lock.wait(min(0.5, max(0.0, deadline - time.monotonic())))
    return waited


def helper_process():
    """The first helper's `Popen` (running or done), or None."""
    return _state["procs"][0] if _state["procs"] else None


def helper_processes() -> list:
    """Every helper's `Popen`."""
    return list(_state["procs"])


# --- the helper process ---------------------------------------------------------------------------


def _dispatcher(module_name: str, name: str):
    """The kernel `name` of `module_name`: a module of `backend.kernels`, or a generated fused
    kernel whose source this process's parent already wrote into the cache."""
    if module_name.startswith("kerasish_generated."):
        from ..compiler import fusion

        path = fusion._generated_dir() / f"{name}.py"
        if not path.exists():
            source = recorded_source(name)
            if source is None:
                return None
            path = fusion.write_source(name, source)
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, name, None)


def recorded_source(name: str) -> str | None:
    """The source of the generated kernel `name` as a recorded model's first steps wrote it,
    or None. (A kernel generated on its first call, such as an update in place, is not
    written yet when the helper starts; with its source the helper can compile it first.)"""
    for model in manifest().values():
        source = model.get("sources", {}).get(name)
        if source is not None:
            return source
    return None


def _types(text: str) -> tuple:
    """Argument types from their `str` (as in a key)."""
    from numba.core import types

    names = {k: getattr(types, k) for k in dir(types) if not k.startswith("_")}
    names["bool"] = types.boolean
    return eval(text, {"__builtins__": {}}, names)  # noqa: S307 - our own manifest


#: The helper's niceness: it takes a CPU nothing else wants, and yields one that the training
#: process (or anything else) needs, so on a busy machine it never slows the process it helps.
NICENESS = 10


def _lower_priority() -> None:
    """Lowers this (helper) process's scheduling priority by `NICENESS`, where the OS can."""
    if hasattr(os, "nice"):
        try:
            os.nice(NICENESS)
        except OSError:
            pass


def main() -> None:
    """The helper: compiles (or loads, if already cached) each key read from stdin, saying
    on stdout which one it is busy with. A key that no longer resolves is skipped."""
    _lower_priority()
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
