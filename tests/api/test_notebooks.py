"""The notebooks under docs/notebooks/ run headless in a Jupyter kernel (nbclient), and `fit`'s
progress bar shows there as one line per epoch, rewritten in place.

Test-only dependencies: nbclient, nbformat, ipykernel (the `test` extra). The kernel runs
this interpreter (tools/notebooks.py), with this process's import path, and hides ipywidgets
so the bar takes its text form (a stream line rewritten with carriage returns), the form CI
sees; with ipywidgets a notebook shows a widget per bar instead.
"""

import re
import resource
import time

import docs_pages  # tests/api/docs_pages.py, loaded by tests/api/conftest.py
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((docs_pages.DOCS / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds, for the whole notebook
BAR = re.compile(r"^\s*(\d+)/(\d+) ")
EPOCH = re.compile(r"^Epoch (\d+)/(\d+)$")

FIRST_CELL = """\
import sys
sys.modules["ipywidgets"] = None  # the bar's text form, as without ipywidgets
import kerasish
print(kerasish.__file__)"""


def applied_carriage_returns(text: str) -> list:
    """The lines a terminal or notebook shows for `text`: on each line, what follows the last
    carriage return (a line ending in one keeps what came before it)."""
    return [line.rstrip("\r").split("\r")[-1] for line in text.split("\n")]


def stdout_of(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def bar_lines(text: str) -> list:
    return [line for line in applied_carriage_returns(text) if BAR.match(line)]


def run_notebook(path, workdir):
    tools_notebooks = docs_pages.load_tool("notebooks")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(FIRST_CELL))
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    executed = tools_notebooks.execute(nb, workdir, timeout=TIMEOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel, ended and waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return executed, time.perf_counter() - start, cpu


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_fit_shows_one_line_per_epoch(path, tmp_path, request):
    nb, seconds, cpu = run_notebook(path, tmp_path)  # a cell's error: CellExecutionError
    docs_pages.page_times(request.config)[f"docs/notebooks/{path.name}"] = (seconds, cpu)
    assert seconds <= TIMEOUT
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert stdout_of(code[0]).strip() == str(docs_pages.ROOT / "kerasish" / "__init__.py")
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source

    fit_cells = [cell for cell in code if ".fit(" in cell.source and "verbose=1" in cell.source]
    assert len(fit_cells) == 1, f"{path.name}: one fit cell with verbose=1"
    text = stdout_of(fit_cells[0])
    epochs = [EPOCH.match(line) for line in applied_carriage_returns(text)]
    epochs = [m for m in epochs if m]
    assert epochs and len(epochs) == int(epochs[0][2]), text
    bars = bar_lines(text)
    assert len(bars) == len(epochs), f"{path.name}: not one bar line per epoch:\n{bars}"
    assert "\r" in text  # the bar was rewritten in place while the epoch ran
    metrics = ["loss", "accuracy"]
    if "validation" in fit_cells[0].source:
        metrics += ["val_loss", "val_accuracy"]
    for line in bars:
        steps, total = BAR.match(line).groups()
        assert steps == total, line  # the epoch's last state
        assert all(f" - {name}: " in line for name in metrics), line


def test_carriage_returns_are_applied_per_line():
    """The check above would pass a bar printed once per batch if this were wrong."""
    text = "Epoch 1/2\n\r 1/3 a\r 3/3 b\r 3/3 c\nEpoch 2/2\n 1/3 x\n 2/3 y\n 3/3 z\n"
    assert bar_lines(text) == [" 3/3 c", " 1/3 x", " 2/3 y", " 3/3 z"]


def test_committed_notebooks_are_the_script_ones_with_outputs():
    """docs/notebooks/ holds what `python tools/notebooks.py` writes: the same cells, every
    code cell executed, the outputs of the run kept (fit's bar among them)."""
    tool = docs_pages.load_tool("notebooks")
    assert sorted(tool.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert [(c.cell_type, c.source) for c in cells] == tool.NOTEBOOKS[path.name]
        assert all(c.execution_count for c in cells if c.cell_type == "code"), path.name
        assert any(bar_lines(stdout_of(c)) for c in cells if c.cell_type == "code"), path.name
