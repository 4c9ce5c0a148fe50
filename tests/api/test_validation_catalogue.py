"""The catalogue of bad inputs (`validation_cases.py`): every case raises a clear error that
names the argument or layer and the value received, names nothing internal, and leaves the
probe model working. Each group runs in its own subprocess, so a crash (a segfault in a
kernel, say) fails its group's test with the case it was running, not the test run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).with_name("validation_cases.py")
ROOT = Path(__file__).resolve().parents[2]
GROUPS = ["core_layers", "image_layers", "sequence_layers", "training", "ops_and_data"]


def _run(*args, timeout=600):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, str(CASES), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)  # fmt: skip


def test_the_catalogue_has_at_least_200_distinct_cases():
    result = _run("--count")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert sorted(counts) == sorted(GROUPS)
    assert sum(counts.values()) >= 200, counts


@pytest.mark.parametrize("group", GROUPS)
def test_every_bad_input_gets_a_clear_error(group):
    result = _run(group)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [r["start"] for r in records if "start" in r]
    finished = {r["case"]: r["problem"] for r in records if "case" in r}
    if result.returncode != 0:
        running = started[-1] if started and started[-1] not in finished else "(between cases)"
        pytest.fail(
            f"the {group} subprocess died (exit {result.returncode}) while running {running}:\n"
            f"{result.stderr[-3000:]}"
        )
    problems = {name: p for name, p in finished.items() if p is not None}
    assert not problems, "\n".join(f"{name}: {p}" for name, p in problems.items())
    assert len(finished) == len(started) > 0
    assert records[-1] == {"trains": True}  # the probe model still trains afterwards
