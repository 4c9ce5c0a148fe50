"""Runs every documentation page (README.md, docs/**/*.md) as a reader would, and the
docstring examples of the public modules.

A page's ```python blocks, in order, are one script run with this interpreter in a fresh
process, in an empty temporary folder, within 300 s; a block whose first line is `# not run` is
skipped. See tests/api/docs_pages.py for how the script is built and run.
"""

import doctest
import importlib
import re

import docs_pages  # tests/api/docs_pages.py, loaded by tests/api/conftest.py
import pytest

PAGES = [p for p in docs_pages.pages() if docs_pages.runnable_blocks(p)]
PAGE_IDS = [docs_pages.page_id(p) for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_runs_as_one_script(page, tmp_path, request):
    """The page's ```python blocks, in order, as one script in a fresh interpreter in an empty
    folder: it exits cleanly within the time limit. Its wall and CPU time are printed at the
    end of the session (tests/api/conftest.py)."""
    run = docs_pages.run_page(page, tmp_path)
    docs_pages.page_times(request.config)[docs_pages.page_id(page)] = (run.wall, run.cpu)
    assert run.returncode == 0, docs_pages.failure_message(run)  # None: killed at 300 s


def test_a_failing_page_is_reported_at_its_line(tmp_path):
    """The runner's own check: blocks run in order in one process (a later block sees an
    earlier one's names), `# not run` blocks and ```text blocks are skipped, the script runs in
    an empty folder, and a failure names the page's line and shows the child's stderr."""
    page = tmp_path / "page.md"
    page.write_text(
        "Intro.\n\n```python\nimport os\nvalue = 41\n```\n\n```python\n# not run\n"
        "raise SystemExit(3)\n```\n\n```text\nnot python\n```\n\n  ```python\n"
        "  assert os.listdir() == []\n  value += 1\n  assert value == 0, 'value is 42'\n  ```\n"
    )
    run = docs_pages.run_page(page, tmp_path / "work")
    assert run.returncode == 1 and run.failing_line == 20
    message = docs_pages.failure_message(run)
    assert "page.md, line 20" in message and "AssertionError: value is 42" in message


def test_a_page_over_the_time_limit_fails(tmp_path):
    page = tmp_path / "slow.md"
    page.write_text("```python\nimport time\n\ntime.sleep(60)\n```\n")
    run = docs_pages.run_page(page, tmp_path / "work", timeout=1.0)
    assert run.returncode is None and run.wall < 30
    assert "did not finish within 1 s" in docs_pages.failure_message(run)


def test_every_page_is_found():
    """README.md and the pages in subfolders of docs/ are collected too; docs/api/ pages show
    their examples as ```pycon (run by the docstring tests below), not ```python."""
    found = {docs_pages.page_id(p) for p in docs_pages.pages()}
    assert "README.md" in found and "docs/performance.md" in found
    for page in docs_pages.pages():
        if docs_pages.page_id(page).startswith("docs/api/"):
            assert not docs_pages.python_blocks(page), f"{page}: a ```python block"


FROM_EXAMPLE = re.compile(r"# (docs/examples/\w+\.py)\n")


@pytest.mark.parametrize("page", docs_pages.pages(), ids=docs_pages.page_id)
def test_doc_blocks_quoting_an_example_match_it(page):
    """A block whose first line names a script under docs/examples shows that script's code
    verbatim, so the page and the runnable example cannot drift apart."""
    for block in docs_pages.python_blocks(page):
        quoted = FROM_EXAMPLE.match(block.code)
        if quoted:
            script = (docs_pages.ROOT / quoted.group(1)).read_text()
            assert block.code[quoted.end() :] in script, (
                f"{docs_pages.page_id(page)}, line {block.first_line}: the block differs from "
                f"{quoted[1]}"
            )


MODULES = [
    "backend.tensor", "backend.variables", "backend.autodiff", "backend.ops.creation",
    "backend.ops.elementwise", "backend.ops.reduce", "backend.ops.shape", "backend.ops.indexing",
    "backend.ops.linalg", "kerasish.callbacks.callback", "kerasish.callbacks.history",
    "kerasish.callbacks.progbar", "kerasish.callbacks.early_stopping",
    "kerasish.callbacks.reduce_lr",
    "kerasish.callbacks.lr_scheduler", "kerasish.callbacks.csv_logger",
    "kerasish.callbacks.terminate_on_nan", "kerasish.callbacks.lambda_callback",
    "kerasish.utils.numerical_utils", "kerasish.utils.py_dataset", "kerasish.layers.core",
    "kerasish.layers.layer", "kerasish.models.model", "kerasish.models.sequential",
    "kerasish.initializers", "kerasish.activations", "kerasish.regularizers",
    "kerasish.constraints", "kerasish.saving.object_registry",
    "kerasish.layers.convolutional", "kerasish.layers.conv_transpose",
    "kerasish.layers.depthwise_separable", "kerasish.layers.pooling",
    "kerasish.layers.normalization", "kerasish.layers.spatial",
    "backend.ops.nn", "backend.random", "backend.seeds", "kerasish.ops",
    "kerasish.datasets.digits",
    "kerasish.utils.progbar", "kerasish.callbacks.tensorboard", "kerasish.utils.dataset_utils",
    "kerasish.config", "kerasish.utils.file_utils", "kerasish.datasets.mnist",
    "kerasish.datasets.fashion_mnist", "kerasish.datasets.cifar10", "kerasish.datasets.imdb",
    "kerasish.layers.image_augmentation", "kerasish.layers.image_resizing",
    "backend.ops.image_transform", "kerasish.utils.plotting", "kerasish.utils.image_dataset",
    "kerasish.layers.text_vectorization", "kerasish.layers.lookup",
    "kerasish.layers.string_hashing", "kerasish.utils.sequence_utils",
    "kerasish.utils.timeseries_dataset",
    "backend.ops.softmax", "backend.ops.norm", "kerasish.layers.layer_normalization",
    "kerasish.layers.attention", "kerasish.layers.multi_head_attention",
    "kerasish.utils.image_utils", "kerasish.trainers.trainer",
    "kerasish.callbacks.model_checkpoint", "kerasish.callbacks.backup_and_restore",
    "kerasish.saving", "kerasish.saving.atomic", "kerasish.saving.saving_api",
    "kerasish.saving.serialization",
]  # fmt: skip


# The modules whose docstrings docs/api/ shows (tools/api_reference.py) run their examples here
# too: the API pages show them as ```pycon blocks, which the page runner does not run again.
DOCSTRING_MODULES = sorted(set(MODULES) | docs_pages.api_reference().documented_modules())


@pytest.mark.parametrize("name", DOCSTRING_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
