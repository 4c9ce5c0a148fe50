"""The README's promises: its install-and-demo command works verbatim in a fresh virtual
environment, and its benchmark table is the one its JSON gives."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def _table_module():
    spec = importlib.util.spec_from_file_location("bench_table", ROOT / "benchmarks" / "table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_table_is_the_one_its_json_gives():
    table = _table_module()
    text = README.read_text(encoding="utf-8")
    found = table.find_section(text)
    assert found, "README.md has no generated benchmark table"
    section, json_path = found
    results = json.loads((ROOT / json_path).read_text(encoding="utf-8"))
    expected = table.readme_section(results, json_path)
    assert section == expected, (
        f"README.md's benchmark table differs from {json_path}: regenerate it with "
        f"`python benchmarks/table.py {json_path} --readme README.md`"
    )
    # and the table has a row for every row the run timed
    for _name, summary, row, _figures in table._rows(results):
        assert row == "numpy forward" or table.label(summary, row) in expected


def test_replace_section_rewrites_only_the_table():
    table = _table_module()
    readme = f"intro\n{table.BEGIN.format('old.json')}\nold rows\n{table.END}\noutro\n"
    new = table.replace_section(readme, "NEW")
    assert new == "intro\nNEW\noutro\n"
    try:
        table.replace_section("no markers here", "NEW")
    except ValueError as err:
        assert "markers" in str(err)
    else:
        raise AssertionError("a README without markers was accepted")


def test_install_and_demo_command_runs_verbatim_in_a_fresh_venv(tmp_path):
    """The README's first command, as a new user types it, in a new virtual environment
    (pip fetches the dependencies), from the repository root."""
    blocks = re.findall(r"```bash\n(.*?)```", _section("Install and run the demo"), re.S)
    assert len(blocks) == 1, "the demo section should hold exactly one command block"
    command = blocks[0].strip()
    assert command.startswith("pip install") and "python -m kerasish" in command
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    tail = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, f"`{command}` failed:\n{tail}"
    found = re.search(r"test accuracy: ([0-9.]+)", result.stdout)
    assert found, f"the demo printed no test accuracy:\n{tail}"
    assert float(found.group(1)) > 0.8, tail
    # the package it ran is the one the fresh environment installed from this checkout
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import kerasish; print(kerasish.__file__)"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(ROOT)), where.stdout + where.stderr
