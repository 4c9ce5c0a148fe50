"""backend.config: threads, JIT flags and the kernel cache directory with its fallbacks; that
the kernels take every flag from it; that importing stays Numba-free. (Which pools the thread
count reaches: test_threads.py.)"""

import doctest
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import backend
from backend import config
from backend.testing import fresh_python

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter from the repository root, with extra env vars."""
    return fresh_python(code, ROOT, **env)


@pytest.fixture
def restore_threads():
    saved = config._num_threads
    yield
    config.set_num_threads(saved or config._default_num_threads())  # BLAS back too
    config._num_threads = saved


# --- threads -----------------------------------------------------------------------------------


def test_set_num_threads_round_trip(restore_threads):
    config.set_num_threads(1)
    assert config.get_num_threads() == 1


@pytest.mark.parametrize("bad", [1.5, "2", True, None])
def test_set_num_threads_wants_an_int(bad, restore_threads):
    with pytest.raises(TypeError, match=r"set_num_threads: n must be an int. Received: n="):
        config.set_num_threads(bad)


def test_set_num_threads_range(restore_threads):
    limit = config._default_num_threads()
    for bad in (0, -1, limit + 1):
        with pytest.raises(ValueError, match=rf"must be in \[1, {limit}\].*Received: n={bad}"):
            config.set_num_threads(bad)


def test_blas_threads_go_through_threadpoolctl_when_installed(monkeypatch, restore_threads):
    calls = []
    fake = types.ModuleType("threadpoolctl")
    fake.threadpool_limits = lambda limits, user_api: calls.append((limits, user_api))
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake)
    config.set_num_threads(1)
    assert calls == [(1, "blas")]


def test_parallel_threshold(monkeypatch):
    monkeypatch.setattr(config, "_parallel_threshold", config.parallel_threshold())
    config.set_parallel_threshold(0)
    assert config.parallel_threshold() == 0
    with pytest.raises(ValueError, match="work must be an int >= 0. Received: -1"):
        config.set_parallel_threshold(-1)


# --- JIT flags ---------------------------------------------------------------------------------


def test_jit_options_defaults():
    options = config.jit_options()
    assert options == {
        "cache": options["cache"],
        "fastmath": False,
        "nogil": True,
        "error_model": "numpy",
        "boundscheck": False,
        "no_cfunc_wrapper": True,
    }
    assert options["cache"] is (config.cache_dir() is not None)


def test_set_jit_options(monkeypatch):
    monkeypatch.setattr(config, "_jit_settings", dict(config._jit_settings))
    monkeypatch.delitem(sys.modules, "backend.kernels", raising=False)
    config.set_jit_options(fastmath=True, cache=False)
    assert config.jit_options()["fastmath"] is True
    assert config.jit_options()["cache"] is False
    with pytest.raises(TypeError, match="set_jit_options: cache must be a bool. Received: 'yes'"):
        config.set_jit_options(cache="yes")


def test_set_jit_options_after_the_kernels_loaded_warns(monkeypatch):
    import backend.kernels  # noqa: F401

    monkeypatch.setattr(config, "_jit_settings", dict(config._jit_settings))
    with pytest.warns(UserWarning, match="already loaded"):
        config.set_jit_options(fastmath=False)


def test_no_kernel_hard_codes_a_jit_flag():
    # Flags come from config.jit_options through backend.kernels' one helper, never a literal.
    literal = re.compile(
        r"fastmath\s*=|cache\s*=\s*True|parallel\s*=\s*True|nogil\s*=|@(numba\.)?n?jit\b"
    )
    offenders = []
    for path in sorted((ROOT / "backend" / "kernels").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if literal.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


# --- the cache directory -----------------------------------------------------------------------


@pytest.fixture
def no_cache_env(monkeypatch, tmp_path):
    """No KERASISH_CACHE_DIR / XDG_CACHE_HOME / NUMBA_CACHE_DIR, HOME in tmp_path."""
    for name in ("KERASISH_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "linux")
    return tmp_path / "home" / ".cache" / "kerasish" / config.cache_key()


def _deny_writes_under(monkeypatch, *roots):
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if any(str(path).startswith(str(root)) for root in roots) and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_cache_key_names_the_version_and_the_cpu():
    from llvmlite import binding

    version, cpu, digest = config.cache_key().rsplit("-", 2)
    assert version == config._version() != ""
    assert cpu == binding.get_host_cpu_name()
    assert len(digest) == 10 and int(digest, 16) >= 0


def test_cache_dir_from_the_environment_is_created(no_cache_env, monkeypatch, tmp_path):
    wanted = tmp_path / "mine" / "kernels"
    monkeypatch.setenv("KERASISH_CACHE_DIR", str(wanted))
    assert config.cache_dir() == str(wanted / config.cache_key())
    assert (wanted / config.cache_key()).is_dir()


def test_cache_dir_is_the_user_cache_never_the_package(no_cache_env, monkeypatch, tmp_path):
    import backend

    assert config.cache_dir() == str(no_cache_env)
    assert not config.cache_dir().startswith(os.path.dirname(os.path.dirname(backend.__file__)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == str(tmp_path / "xdg" / "kerasish" / config.cache_key())
    assert config.jit_options()["cache"] is True


def test_platform_cache_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert config._user_cache_root() == str(tmp_path / "Library" / "Caches" / "kerasish")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert config._user_cache_root() == os.path.join(str(tmp_path / "local"), "kerasish", "Cache")
    monkeypatch.delenv("LOCALAPPDATA")
    assert config._user_cache_root() is None


def test_nothing_writable_turns_caching_off(no_cache_env, monkeypatch, tmp_path):
    _deny_writes_under(monkeypatch, tmp_path)
    assert config.cache_dir() is None
    assert config.jit_options()["cache"] is False


def test_unwritable_cache_dir_from_the_environment_warns_and_falls_back(
    no_cache_env, monkeypatch, tmp_path
):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("KERASISH_CACHE_DIR", str(not_a_dir))
    with pytest.warns(UserWarning, match="is not a writable directory"):
        assert config.cache_dir() == str(no_cache_env)


# --- loading the kernels (fresh interpreters) --------------------------------------------------


def test_import_and_config_calls_do_not_import_numba():
    result = _python(
        """
        import sys
        import backend
        from backend import config
        config.jit_options(); config.cache_dir()
        config.set_num_threads(1)
        print(config.get_num_threads(), "numba" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False"]


def test_kernels_set_up_numba_and_a_second_process_loads_the_cache(tmp_path):
    first = """
        import os
        import numpy as np
        from backend import config
        from backend import kernels
        import numba
        from backend.kernels import optim
        print(os.environ["NUMBA_CACHE_DIR"], numba.config.CACHE_DIR)
        optim.sgd(np.ones(3), np.ones(3), 0.5)
        print(sum(optim._sgd_range.stats.cache_misses.values()), kernels.compiled_signature_count())
        """
    result = _python(first, KERASISH_CACHE_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    keyed = str(tmp_path / config.cache_key())
    assert lines[0].split() == [keyed, keyed]
    assert lines[1].split()[0] == "1"  # compiled, then written to the cache

    # (The engine imports numba itself, as the first process did: a numba imported first keeps
    # its default target, whose compiled kernels the cache keeps apart.)
    second = """
        import numpy as np
        from backend import config
        from backend.kernels import optim
        config.set_parallel_threshold(0)
        optim.sgd(np.ones(3), np.ones(3), 0.5)
        print(sum(optim._sgd_range.stats.cache_hits.values()))
        """
    result = _python(second, KERASISH_CACHE_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"]


def _kernel_cache_files(root) -> set:
    """Numba's cache files and our generated kernel sources under `root`."""
    found = set()
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith((".nbi", ".nbc")) or name.startswith("fused_"):
                found.add(os.path.join(folder, name))
    return found


def test_compiling_writes_nothing_under_the_packages(tmp_path):
    import backend

    packages = os.path.dirname(os.path.dirname(os.path.abspath(backend.__file__)))
    roots = [os.path.join(packages, name) for name in ("backend", "kerasish")]
    before = set().union(*(_kernel_cache_files(r) for r in roots))
    code = """
        import numpy as np
        from backend import compiler, ops
        from backend.kernels import optim
        optim.sgd(np.ones(3), np.ones(3), 0.5)
        step = compiler.function(lambda x: ops.relu(x * 2.0 + 1.0))
        print(step(np.ones((2, 3), np.float32)).sum())
        """
    env = {k: "" for k in ("XDG_CACHE_HOME",)}
    result = _python(code, HOME=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == 18.0
    after = set().union(*(_kernel_cache_files(r) for r in roots))
    assert after == before
    cached = _kernel_cache_files(tmp_path / ".cache" / "kerasish")
    assert any(name.endswith(".nbi") for name in cached)
    assert any(os.path.basename(name).startswith("fused_") for name in cached)


def test_a_users_numba_cache_dir_wins_and_late_imports_are_handled(tmp_path):
    code = """
        import numba  # imported before the kernels: the cache dir goes to numba.config
        from backend import kernels
        print(numba.config.CACHE_DIR)
        """
    result = _python(code, KERASISH_CACHE_DIR=str(tmp_path / "ours"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "ours" / config.cache_key())
    result = _python(
        code, KERASISH_CACHE_DIR=str(tmp_path / "ours"), NUMBA_CACHE_DIR=str(tmp_path / "users")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "users")


# --- the public face ---------------------------------------------------------------------------


def _host_has_avx512() -> bool:
    from llvmlite import binding

    return "+avx512f" in binding.get_host_cpu_features().flatten().split(",")


def test_wide_vectors_on_avx512_unless_the_user_said_otherwise(monkeypatch):
    # Run as if numba were not imported yet (the function only asks sys.modules).
    monkeypatch.delitem(sys.modules, "numba")
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.delenv("KERASISH_WIDE_VECTORS", raising=False)
    config._prefer_wide_vectors()
    features = os.environ.get("NUMBA_CPU_FEATURES")
    if _host_has_avx512():
        assert features.endswith(",-prefer-256-bit") and "+avx512f" in features.split(",")
    else:
        assert features is None
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "+sse2")  # the user's own wins
    config._prefer_wide_vectors()
    assert os.environ["NUMBA_CPU_FEATURES"] == "+sse2"
    monkeypatch.delenv("NUMBA_CPU_FEATURES")
    monkeypatch.setenv("KERASISH_WIDE_VECTORS", "0")  # opted out
    config._prefer_wide_vectors()
    assert "NUMBA_CPU_FEATURES" not in os.environ


def test_wide_vectors_leave_an_imported_numba_alone(monkeypatch):
    import numba  # noqa: F401  (imported: too late to change its target)

    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.delenv("KERASISH_WIDE_VECTORS", raising=False)
    config._prefer_wide_vectors()
    assert "NUMBA_CPU_FEATURES" not in os.environ


def test_kerasish_config_reexports_threads():
    import kerasish

    assert kerasish.config.set_num_threads is config.set_num_threads
    assert kerasish.config.get_num_threads is config.get_num_threads


def test_docstring_examples(restore_threads):
    result = doctest.testmod(config, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("code", "preset", "expected"),
    [
        ("import backend", None, backend.OPENBLAS_IDLE_SPIN),  # set before numpy loads it
        ("import numpy, backend", None, "None"),  # too late for the variable: left alone
        ("import backend", "12", "12"),  # the user's value wins
    ],
)
def test_openblas_spin_variable_set_when_the_engine_comes_first(code, preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    script = f"{code}; import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


# With numpy imported first: after a two-thread GEMM, the nanoseconds of CPU that threads
# other than the main one take while it sleeps 50 ms (OpenBLAS's idle workers spinning).
_SPIN_AFTER_GEMM = """
import os, threading, time
import numpy as np
a = np.ones((1024, 1024), np.float32)
a @ a  # OpenBLAS's workers run, then spin
import backend
def others_ns():
    me, total = threading.get_native_id(), 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != me:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    return total
for _ in range(3):
    a @ a
    before = others_ns()
    time.sleep(0.05)
    print(others_ns() - before)
"""


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not os.path.exists("/proc/self/schedstat"),
    reason="needs two CPUs and per-thread scheduler statistics (Linux)",
)
def test_openblas_spin_made_short_when_numpy_comes_first():
    """`import backend` after numpy restarts OpenBLAS's threads with the short idle spin; a
    user's OPENBLAS_THREAD_TIMEOUT (here OpenBLAS's own default) is left to spin."""
    from backend import blas

    libraries = [lib for lib in config.openblas_libraries() if blas._spin_functions(lib)]
    if not libraries:
        pytest.skip("numpy's BLAS is not a pthreads OpenBLAS")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    spun = {}
    for preset in (None, "28"):
        if preset is not None:
            env["OPENBLAS_THREAD_TIMEOUT"] = preset
        out = subprocess.run(
            [sys.executable, "-c", _SPIN_AFTER_GEMM], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        spun[preset] = min(int(line) for line in out.stdout.split())
    assert spun[None] < 5e6, spun  # under 5 ms of the 50
    assert spun["28"] > 20e6, spun  # the default spin takes most of them
