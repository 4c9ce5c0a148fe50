"""Runs the code blocks of docs/*.md and the docstring examples of the public modules."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_doc_code_blocks_run(page):
    blocks = BLOCK.findall(page.read_text())
    namespace: dict = {}
    for block in blocks:  # blocks of one page share a namespace, as in a notebook
        if block.startswith("# not run"):  # shown, not run (it needs the internet, say)
            continue
        exec(compile(block, str(page), "exec"), namespace)


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
    "backend.ops.nn", "backend.random", "kerasish.ops", "kerasish.datasets.digits",
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
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
