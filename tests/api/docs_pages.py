"""The documentation pages as the tests see them: the pages, their code blocks, and a runner
that executes a page's Python blocks as one script in a fresh interpreter.

A page is `README.md` or any `docs/**/*.md`. Its ```python blocks, in order, make one script
(a reader copies them into one file and runs it); a block whose first line is `# not run` is
shown, not run. Other fences (```bash, ```text, ```pycon) are never run.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOT_RUN = "# not run"
TIMEOUT = 300.0  # seconds a page may take, warm kernel cache


def pages() -> list:
    """README.md and every page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


@dataclass
class Block:
    language: str  # the fence's info string: "python", "text", "bash", ...
    first_line: int  # the page's line number (1-based) of the block's first code line
    code: str


FENCE = re.compile(r"\s*```([\w+-]*)\s*")  # a fence line: ``` and at most a language name


def is_fence(line: str) -> bool:
    return FENCE.fullmatch(line) is not None


def blocks(page: Path) -> list:
    """Every fenced block of `page`, with its language and where it starts."""
    found, open_fence = [], None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if open_fence is None:
            if is_fence(line):
                indent = len(line) - len(line.lstrip())
                open_fence = (FENCE.fullmatch(line)[1], number + 1, indent, [])
        elif is_fence(line) and not FENCE.fullmatch(line)[1]:
            language, first, _, lines = open_fence
            found.append(Block(language, first, "\n".join(lines) + "\n"))
            open_fence = None
        else:
            open_fence[3].append(line[open_fence[2] :])  # a fence indented in a list item
    return found


def python_blocks(page: Path) -> list:
    return [b for b in blocks(page) if b.language == "python"]


def runnable_blocks(page: Path) -> list:
    return [b for b in python_blocks(page) if not b.code.startswith(NOT_RUN)]


def page_script(page: Path) -> tuple:
    """(script, line_map): the runnable blocks joined, and for each script line (1-based,
    index 0 unused) the page line it came from."""
    lines, line_map = [], [0]
    for block in runnable_blocks(page):
        for offset, line in enumerate(block.code.splitlines()):
            lines.append(line)
            line_map.append(block.first_line + offset)
        lines.append("")  # a blank line between blocks, mapped to the block's end
        line_map.append(line_map[-1])
    return "\n".join(lines) + "\n", line_map


def child_environment() -> dict:
    """The parent's environment, with the parent's import path (the repo is importable both
    from an editable install and from PYTHONPATH) and the examples folder, so a page quoting
    docs/examples/*.py can import a sibling script as running it from there would. The
    kernel cache is the parent's (KERASISH_CACHE_DIR inherited, or the same default)."""
    env = dict(os.environ)
    path = [str(DOCS / "examples")] + [p for p in sys.path if p and Path(p).exists()]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    env.pop("PYTHONSTARTUP", None)
    return env


@dataclass
class PageRun:
    page: Path
    returncode: int | None  # None: killed at the timeout
    wall: float  # seconds
    cpu: float  # the child's user + system seconds
    stdout: str
    stderr: str
    failing_line: int | None  # the page's line of the innermost frame in the script
    timeout: float = TIMEOUT


def run_page(page: Path, workdir: Path, timeout: float = TIMEOUT) -> PageRun:
    """Run the page's script with this interpreter in `workdir / "run"` (created empty)."""
    script, line_map = page_script(page)
    script_path = workdir / "script" / (page.stem + "_page.py")
    script_path.parent.mkdir(parents=True)
    script_path.write_text(script)
    cwd = workdir / "run"
    cwd.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(script_path)],
        cwd=cwd,
        env=child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends its helpers too
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
        returncode = child.returncode
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate()
        returncode = None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    failing = _failing_script_line(stderr, script_path)
    failing_line = line_map[failing] if failing is not None and failing < len(line_map) else None
    return PageRun(page, returncode, wall, cpu, stdout, stderr, failing_line, timeout)


def _failing_script_line(stderr: str, script_path: Path) -> int | None:
    """The line of the last traceback frame in the script (the innermost one in the page)."""
    marker = f'File "{script_path}", line '
    line = None
    for text in stderr.splitlines():
        at = text.find(marker)
        if at >= 0:
            digits = text[at + len(marker) :].split(",")[0]
            if digits.isdigit():
                line = int(digits)
    return line


def failure_message(run: PageRun, tail: int = 40) -> str:
    where = page_id(run.page)
    if run.failing_line is not None:
        where += f", line {run.failing_line}"
    if run.returncode is None:
        what = f"did not finish within {run.timeout:g} s"
    else:
        what = f"exited with status {run.returncode} after {run.wall:.1f} s"
    stderr_tail = "\n".join(run.stderr.splitlines()[-tail:])
    return f"{where}: the page's script {what}.\n--- stderr (last {tail} lines) ---\n{stderr_tail}"


def page_times(config) -> dict:
    """The pages' run times of this pytest session, {page id: (wall, cpu)}, kept on the config
    so `tests/api/conftest.py` can print them at the end."""
    return config.__dict__.setdefault("_kerasish_docs_page_times", {})


def api_reference():
    """tools/api_reference.py, the script that writes docs/api/, as a module."""
    return load_tool("api_reference")


def load_tool(name: str):
    """tools/<name>.py as a module."""
    import importlib.util

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
