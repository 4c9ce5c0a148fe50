"""Runs the code blocks of docs/*.md and the docstring examples of the public modules."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


NOT_RUN = "# not run"  # a block's first line: shown to readers (a full-length run), not run
FROM_EXAMPLE = re.compile(r"# (docs/examples/\w+\.py)\n")


def runnable_blocks(page: Path) -> list:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith(NOT_RUN)]


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_doc_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what a page writes (images, checkpoints) lands here
    monkeypatch.syspath_prepend(str(DOCS / "examples"))
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for block in runnable_blocks(page):  # blocks of one page share a namespace, as a notebook
        exec(compile(block, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_doc_blocks_quoting_an_example_match_it(page):
    """A block whose first line names a script under docs/examples shows that script's code
    verbatim, so the page and the runnable example cannot drift apart."""
    for block in BLOCK.findall(page.read_text()):
        quoted = FROM_EXAMPLE.match(block)
        if quoted:
            script = (DOCS.parent / quoted.group(1)).read_text()
            assert block[quoted.end() :] in script, f"{page.name}: a block differs from {quoted[1]}"


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


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
