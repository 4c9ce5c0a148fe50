"""The compile machinery of `backend.kernels`: kernels compiled at `config.llvm_opt_level()`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from backend import config

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter from the repository root, with extra env vars."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASISH_", "NUMBA_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
