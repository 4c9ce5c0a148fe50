"""The API reference (docs/api/) is current: it equals what tools/api_reference.py writes from
today's docstrings, and it shows every public name with its signature and examples."""

import docs_pages  # tests/api/docs_pages.py, loaded by tests/api/conftest.py

import kerasish

API = docs_pages.DOCS / "api"
REGENERATE = "python tools/api_reference.py"


def test_committed_pages_equal_the_generated_ones(tmp_path):
    written = docs_pages.api_reference().write(tmp_path)
    committed = sorted(p.name for p in API.glob("*.md"))
    assert committed == written, f"docs/api/ has other pages than the script writes: {REGENERATE}"
    stale = [name for name in written if (API / name).read_text() != (tmp_path / name).read_text()]
    assert not stale, f"docs/api/ is out of date ({', '.join(stale)}): run {REGENERATE}"


def test_every_public_name_has_a_section():
    tool = docs_pages.api_reference()
    for module in tool.public_modules():
        page = (API / f"{module}.md").read_text()
        for name, _ in tool.public_names(getattr(kerasish, module)):
            assert f"## `{module}.{name}`\n" in page, f"docs/api/{module}.md lacks {name}"
    dense = (API / "layers.md").read_text().split("## `layers.Dense`\n", 1)[1].split("\n## ")[0]
    assert "class Dense(units, activation=None, use_bias=True" in dense
    assert "```pycon\n>>> " in dense and "kernel_initializer" in dense


def test_docstring_examples_become_pycon_blocks():
    doc = (
        "Adds one.\n\nArgs:\n    x: a number,\n        or an array.\n\n"
        "Example:\n    >>> add_one(1)\n    2\n    >>> for i in range(2):\n    ...     print(i)\n"
        "    0\n    1\n\nMore text.\n"
    )
    assert docs_pages.api_reference().docstring_markdown(doc) == (
        "Adds one.\n\nArgs:\n- x: a number,\n  or an array.\n\nExample:\n"
        "```pycon\n>>> add_one(1)\n2\n>>> for i in range(2):\n...     print(i)\n0\n1\n```\n\n"
        "More text.\n"
    )
