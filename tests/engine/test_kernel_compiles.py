"""The compile machinery of `backend.kernels`: kernels compiled at `config.llvm_opt_level()`,
and a second process compiling a recorded model's next kernels into the shared cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from backend import config
from backend.kernels import background
from backend.testing import fresh_python

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter from the repository root, with extra env vars."""
    return fresh_python(code, ROOT, timeout=600, **env)


def _cache_files(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")}


# --- the LLVM optimization level ------------------------------------------------------------------


def test_llvm_opt_level_default_environment_and_numba_opt(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    monkeypatch.delenv("KERASISH_LLVM_OPT", raising=False)
    assert config.llvm_opt_level() == 1
    monkeypatch.setenv("KERASISH_LLVM_OPT", "3")
    assert config.llvm_opt_level() == 3
    monkeypatch.setenv("KERASISH_LLVM_OPT", "fast")  # not a level: the default
    assert config.llvm_opt_level() == 1
    monkeypatch.setenv("NUMBA_OPT", "2")  # the user's Numba-wide level wins
    assert config.llvm_opt_level() is None


def test_kernels_compile_at_their_level_and_numba_keeps_its_own(monkeypatch):
    import numba
    from numba.core import codegen

    from backend import kernels

    monkeypatch.setenv("KERASISH_LLVM_OPT", "2")
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    seen = []
    original = codegen.CPUCodegen._pass_builder

    def recording(self, **kwargs):
        seen.append(int(kwargs.get("opt", numba.config.OPT)))
        return original(self, **kwargs)

    monkeypatch.setattr(codegen.CPUCodegen, "_pass_builder", recording)

    def add_one(x, out):
        for i in range(x.shape[0]):
            out[i] = x[i] + 1.0

    before = int(numba.config.OPT)
    dispatcher = kernels._Kernel(py_func=add_one, locals={}, targetoptions={"nopython": True})
    out = np.empty(3)
    dispatcher(np.arange(3.0), out)
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    assert 2 in seen and before not in set(seen) - {0}  # level 0: Numba's inlining pre-pass
    assert int(numba.config.OPT) == before  # restored after the compile

    seen.clear()
    plain = numba.njit(add_one)
    plain(np.arange(3.0), out)
    assert before in seen and 2 not in seen


_LEVEL_SCRIPT = """
    import hashlib
    import numpy as np
    from backend.kernels import softmax, winograd_grad
    rng = np.random.default_rng(0)
    dv = rng.standard_normal((16, 2 * 36, 32)).astype(np.float32)
    dx = np.empty((2, 13, 13, 32), np.float32)
    winograd_grad.input_grad_transform(dv, 0, 0, 6, 6, dx)
    x = (rng.standard_normal((64, 10)) * 30).astype(np.float32)
    y = np.empty_like(x)
    softmax.softmax_rows(x, y)
    print(hashlib.sha256(dx.tobytes() + y.tobytes()).hexdigest())
"""


def test_kernels_at_level_1_compute_the_bits_of_level_3(tmp_path):
    # Without fast-math LLVM's optimizations never change a float result; this checks it on
    # the kernels whose loops change most between the levels (vectorized at both).
    hashes = []
    for level in ("1", "3"):
        cache = tmp_path / level
        result = _python(_LEVEL_SCRIPT, KERASISH_CACHE_DIR=str(cache), KERASISH_LLVM_OPT=level,
                         KERASISH_BACKGROUND_COMPILE="0")  # fmt: skip
        assert result.returncode == 0, result.stderr
        hashes.append(result.stdout.split()[-1])
    assert hashes[0] == hashes[1]


# --- the helper process ---------------------------------------------------------------------------


def test_plan_for_follows_the_recorded_order(monkeypatch):
    monkeypatch.setattr(background, "_manifest", {
        "model": {"first_step": ["a", "b", "c", "d"], "later": ["e", "c"]},
        "other": {"first_step": ["x", "a"], "later": []},
    })  # fmt: skip
    # The rest of the first step from its end (this process works from its start), then
    # the later kernels not already listed.
    assert background.plan_for("b") == ["d", "c", "e"]
    assert background.plan_for("d") == ["e", "c"]
    assert background.plan_for("x") == ["a"]
    assert background.plan_for("a") == []  # two models start with it: which one is unknown
    assert background.plan_for("unknown") == []


def test_the_recorded_manifest_names_kernels_that_exist():
    import importlib

    from backend import kernels  # noqa: F401

    lists = background.manifest()
    assert set(lists) >= {"convnet", "mlp"}
    keys = [k for m in lists.values() for part in m.values() for k in part]
    engine = [k for k in keys if k.startswith("backend.kernels.")]
    assert len(engine) >= 10
    for key in engine:
        module, name, text = key.split(":", 2)
        dispatcher = getattr(importlib.import_module(module), name)
        assert dispatcher.py_func.__name__ == name
        assert len(background._types(text)) == dispatcher.py_func.__code__.co_argcount


def test_wait_if_busy_waits_for_the_helper(monkeypatch):
    from backend.kernels import reduce

    args = (reduce._sum_last_range.typeof_pyval(0),) * 2
    key = background.key_of(reduce._sum_last_range, args)
    monkeypatch.setitem(background._state, "procs", [object(), object()])
    monkeypatch.setitem(background._state, "busy", {1: "another kernel", 2: key})

    def finish():
        time.sleep(0.3)
        with background._lock:
            del background._state["busy"][2]
            background._lock.notify_all()

    threading.Thread(target=finish).start()
    started = time.monotonic()
    assert background.wait_if_busy(reduce._sum_last_range, args) is True
    assert time.monotonic() - started >= 0.25
    assert background.wait_if_busy(reduce._sum_last_range, args) is False  # not busy now

    # A helper stuck on the kernel is waited for only so long, then this process goes on.
    monkeypatch.setattr(background, "MAX_WAIT", 0.3)
    monkeypatch.setitem(background._state, "busy", {1: key})
    started = time.monotonic()
    assert background.wait_if_busy(reduce._sum_last_range, args) is True
    assert 0.25 <= time.monotonic() - started < 5.0


def test_start_shares_the_plan_among_the_helpers(monkeypatch):
    from types import SimpleNamespace

    from backend.kernels import reduce

    args = (reduce._sum_last_range.typeof_pyval(0),) * 2
    first = background.key_of(reduce._sum_last_range, args)
    keys = [first] + [f"k{i}" for i in range(7)]
    monkeypatch.setattr(background, "_manifest", {"m": {"first_step": keys, "later": ["z"]}})
    monkeypatch.setitem(background._state, "started", False)
    monkeypatch.setitem(background._state, "procs", [])
    monkeypatch.setattr(background, "enabled", lambda: True)
    monkeypatch.setattr(background, "helpers_wanted", lambda: 3)
    shares = []
    monkeypatch.setattr(background, "_spawn", lambda share: shares.append(share) or share)
    dispatcher = SimpleNamespace(py_func=reduce._sum_last_range.py_func)
    assert background.start(dispatcher, args) is True
    # The plan is k6, k5, ..., k0, z; helper i takes every third from the i-th, so the three
    # together start from the first step's end.
    assert shares == [["k6", "k3", "k0"], ["k5", "k2", "z"], ["k4", "k1"]]
    assert background.start(dispatcher, args) is False  # once per process


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities here")
def test_the_helper_yields_the_cpu_to_other_work():
    result = _python("""
        import os
        from backend.kernels import background
        before = os.nice(0)
        background._lower_priority()
        print(os.nice(0) - before)
        """)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) == min(background.NICENESS, 19 - os.nice(0))


_HELPER_SCRIPT = """
    import hashlib, json, sys
    import numpy as np
    from backend.kernels import background, reduce
    x = np.linspace(-3.0, 5.0, 24).reshape(4, 6)  # float64: no recorded model uses these
    first = background.key_of(reduce._sum_last_range, tuple(
        reduce._sum_last_range.typeof_pyval(a) for a in (0, 4, x, np.empty(4))))
    second = background.key_of(reduce._max_last_range, tuple(
        reduce._max_last_range.typeof_pyval(a) for a in (0, 4, x, np.empty(4))))
    background._manifest = {"test": {"first_step": [first, second], "later": []}}
    total, top = np.empty(4), np.empty(4)
    reduce.sum_last(x, total)  # compiled here; starts the helper on the next kernel
    helper = background.helper_process()
    if helper is not None:
        helper.wait(timeout=300)
    reduce.max_last(x, top)
    stats = reduce._max_last_range.stats
    print(json.dumps({
        "helper": helper is not None and helper.returncode == 0,
        "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
        "bits": hashlib.sha256(total.tobytes() + top.tobytes()).hexdigest(),
        "top": top.tolist(),
    }))
"""


@pytest.mark.skipif(config._default_num_threads() < 2, reason="the helper needs a second CPU")
def test_helper_writes_the_cache_entries_a_foreground_compile_would(tmp_path):
    runs = {}
    for mode, switch in (("helper", "1"), ("foreground", "0")):
        cache = tmp_path / mode
        result = _python(_HELPER_SCRIPT, KERASISH_CACHE_DIR=str(cache),
                         KERASISH_BACKGROUND_COMPILE=switch)  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[mode] = (json.loads(result.stdout.splitlines()[-1]), _cache_files(cache))
    helped, files_helped = runs["helper"]
    alone, files_alone = runs["foreground"]
    assert helped["helper"] is True and alone["helper"] is False
    # With the helper, the second kernel was loaded from the cache it wrote; alone, compiled.
    assert (helped["hits"], helped["misses"]) == (1, 0)
    assert (alone["hits"], alone["misses"]) == (0, 1)
    assert files_helped == files_alone and len(files_alone) >= 4
    assert helped["bits"] == alone["bits"]
    x = np.linspace(-3.0, 5.0, 24).reshape(4, 6)
    np.testing.assert_array_equal(helped["top"], x.max(axis=1))


@pytest.mark.skipif(config._default_num_threads() < 2, reason="the helper needs a second CPU")
def test_helper_imports_this_package_whatever_the_working_folder(tmp_path):
    # A script run as a file (its folder, not the working one, first on sys.path) from a
    # folder holding another `backend`: the helper must compile this package's kernels.
    work = tmp_path / "work"
    (work / "backend").mkdir(parents=True)
    (work / "backend" / "__init__.py").write_text("raise ImportError('the other backend')\n")
    script = tmp_path / "script" / "run.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(_HELPER_SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASISH_", "NUMBA_"))}
    env.update(PYTHONPATH=str(ROOT), KERASISH_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(script)], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    helped = json.loads(result.stdout.splitlines()[-1])
    assert helped["helper"] is True
    assert (helped["hits"], helped["misses"]) == (1, 0)


_MLP_SCRIPT = """
    import hashlib, json, os, sys
    import numpy as np
    sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
    import startup
    import kerasish as keras
    from backend.kernels import background
    keras.utils.set_random_seed(3)
    model, _ = startup._mlp(keras)
    rng = np.random.default_rng(0)
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    weights = b"".join(np.asarray(w).tobytes() for w in model.get_weights())
    print(json.dumps({"helper": background.helper_process() is not None,
                      "bits": hashlib.sha256(weights).hexdigest()}))
"""


@pytest.mark.skipif(config._default_num_threads() < 2, reason="the helper needs a second CPU")
def test_a_cold_run_with_the_helper_trains_the_bits_of_warm_and_helperless_runs(tmp_path):
    runs = []
    for cache, switch in (("a", "1"), ("a", "1"), ("b", "0")):
        # an empty cache with the helper, the same cache warm, an empty one without the helper
        result = _python(_MLP_SCRIPT, KERASISH_CACHE_DIR=str(tmp_path / cache),
                         KERASISH_BACKGROUND_COMPILE=switch)  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout.splitlines()[-1]))
    assert [r["helper"] for r in runs] == [True, False, False]  # warm: nothing to compile
    assert runs[0]["bits"] == runs[1]["bits"] == runs[2]["bits"]


def test_the_manifest_holds_each_generated_kernels_source():
    for model in background.manifest().values():
        keys = [k for part in ("first_step", "later") for k in model.get(part, [])]
        names = {k.split(":")[1] for k in keys if k.startswith("kerasish_generated.")}
        assert names and names <= set(model["sources"])
        for name in names:  # the name is the digest of the source load_kernel writes
            generic = model["sources"][name].replace(f"def {name}(", "def fused(")
            assert name == "fused_" + hashlib.sha1(generic.encode()).hexdigest()[:16]


def test_the_helper_writes_a_generated_kernel_from_its_recorded_source(monkeypatch, tmp_path):
    from backend.compiler import fusion

    body = ["t0 = (a0 * a1)", "t1 = (t0 - a0)"]
    source = fusion.generate_source("fused", body, ["full", "full"], False, [1], [0])
    name = "fused_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    source = source.replace("def fused(", f"def {name}(")
    monkeypatch.setattr(fusion, "_generated_dir", lambda: tmp_path)
    monkeypatch.setattr(background, "_manifest", {"m": {"sources": {name: source}}})
    assert background._dispatcher("kerasish_generated.fused_0000", "fused_0000") is None
    dispatcher = background._dispatcher(f"kerasish_generated.{name}", name)
    assert dispatcher.py_func.__name__ == name
    assert (tmp_path / f"{name}.py").read_text() == source
    x, y = np.array([2.0, 3.0], np.float32), np.array([5.0, 7.0], np.float32)
    dispatcher(0, 2, x, y)  # in place: x = x * y - x
    assert x.tolist() == [8.0, 18.0]
    with pytest.raises(ValueError, match="not kernel"):
        fusion.write_source(name, source.replace("t0 - a0", "t0 + a0"))
