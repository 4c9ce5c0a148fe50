"""The notice logged when a process first compiles kernels (not when it loads them cached)."""

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from backend import kernels

ROOT = Path(__file__).resolve().parents[2]

# Two kernels, so a second compile in the same process shows that the notice comes once.
COMPILE_TWO_KERNELS = """
import numpy as np
from backend.kernels import reduce
x = np.ones((4, 3), np.float32)
rows, last = np.zeros(3, np.float32), np.zeros(4, np.float32)
reduce.sum_rows(x, rows)
reduce.sum_last(x, last)
print(rows.tolist(), last.tolist())
"""


def run(cache_dir):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["KERASISH_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", COMPILE_TWO_KERNELS],
        capture_output=True, text=True, env=env, cwd=str(cache_dir), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[4.0, 4.0, 4.0] [3.0, 3.0, 3.0, 3.0]"
    return result.stderr


def test_first_compile_logs_one_notice_and_a_warm_cache_none(tmp_path):
    first = run(tmp_path)
    assert first.count("kerasish is compiling its kernels") == 1, first
    assert "once per machine" in first and str(tmp_path) in first
    assert "logging.getLogger('kerasish').setLevel(logging.ERROR)" in first
    assert run(tmp_path) == ""  # the kernels now load from the cache: nothing to say


def test_the_notice_goes_through_logging_so_it_can_be_silenced(caplog, monkeypatch):
    event = SimpleNamespace(data={"dispatcher": kernels.dispatchers()[0]})
    listener = kernels._FirstCompileListener()
    monkeypatch.setattr(logging.getLogger("kerasish"), "level", logging.ERROR)
    with caplog.at_level(logging.WARNING):
        listener.on_start(event)
    assert caplog.records == []
    monkeypatch.undo()
    listener = kernels._FirstCompileListener()
    with caplog.at_level(logging.WARNING):
        listener.on_start(SimpleNamespace(data={"dispatcher": object()}))  # not one of ours
        assert caplog.records == []
        listener.on_start(event)
        listener.on_start(event)
    assert [r.name for r in caplog.records] == ["kerasish"]
    assert "once per machine" in caplog.records[0].getMessage()
