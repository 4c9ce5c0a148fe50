"""The documentation pages stand alone: every link and every repo path they name exists, and
the pages written for users do not speak the engine's internal vocabulary.

The pages under docs/internals/ describe the engine's internals by nature: they are exempt
from the vocabulary check, not from the link check.
"""

import re

import docs_pages  # tests/api/docs_pages.py, loaded by tests/api/conftest.py
import pytest

ROOT = docs_pages.ROOT
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(r"(?<![\w./-])((?:docs|benchmarks|tools|tests|examples)/[\w.*/-]*)")
EXTERNAL = ("http://", "https://", "mailto:", "#")

# Words of the engine's internals a Keras user does not know (case-sensitive where the
# word is also plain English in lower case).
INTERNAL_WORDS = {
    "Plan": re.compile(r"\bPlans?\b"),
    # the compiler's sense ("lowered to a kernel call"), not "lowering the learning rate"
    "lowering": re.compile(
        r"\blowered (?:in)?to\b|\blowering (?:pass|of (?:a |an |the )?(?:node|op|graph))"
    ),
    "arena": re.compile(r"\barenas?\b", re.I),
    "fused group": re.compile(r"\bfused groups?\b", re.I),
    "op contract": re.compile(r"\bop contracts?\b", re.I),
    "backend.compiler": re.compile(r"\bbackend[./]compiler\b"),
}


def prose_lines(page):
    """(line number, text) of the page outside fenced code blocks."""
    inside = False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if docs_pages.is_fence(line):
            inside = not inside
            continue
        if not inside:
            yield number, line


def missing_targets(page):
    """(line, target) for each relative link or repo path (`docs/...`, `tools/...`, in
    backticks or not) naming nothing."""
    missing = []
    for number, line in prose_lines(page):
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                missing.append((number, target))
        # Repo paths in backticks, and in plain words too (outside the links' targets).
        for path in REPO_PATH.findall(LINK.sub("", line)):
            path = path.rstrip(".")
            exists = any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
            if not exists:
                missing.append((number, path))
    return missing


def internal_words(page):
    found = []
    for number, line in prose_lines(page):
        line = CODE_SPAN.sub(lambda m: m[0] if "backend" in m[0] else "", line)  # code aside
        found += [
            (number, word) for word, pattern in INTERNAL_WORDS.items() if pattern.search(line)
        ]
    return found


def user_facing(page) -> bool:
    return not docs_pages.page_id(page).startswith("docs/internals/")


@pytest.mark.parametrize("page", docs_pages.pages(), ids=docs_pages.page_id)
def test_links_and_paths_name_files_that_exist(page):
    missing = missing_targets(page)
    assert not missing, "\n".join(
        f"{docs_pages.page_id(page)}, line {n}: {target} does not exist" for n, target in missing
    )


@pytest.mark.parametrize("page", [p for p in docs_pages.pages() if user_facing(p)],
                         ids=docs_pages.page_id)  # fmt: skip
def test_user_pages_use_no_internal_vocabulary(page):
    found = internal_words(page)
    assert not found, "\n".join(
        f"{docs_pages.page_id(page)}, line {n}: {word!r}" for n, word in found
    )


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The checks themselves: a missing link, a missing backticked path and an internal word
    are found; existing targets, external links and code blocks are not."""
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("")
    page.write_text(
        "[ok](there.md) [web](https://keras.io) [gone](nowhere.md#part)\n"
        "Run `python docs/examples/vae.py` or `tools/no_such_tool.py`, see benchmarks/none.md.\n"
        "The step becomes a Plan.\n"
        "```python\nx = '[code](missing.md) `tests/nothing.py` Plan'\n```\n"
        "A line that starts with ```python in prose is no fence: a Plan.\n"
    )
    assert missing_targets(page) == [
        (1, "nowhere.md#part"),
        (2, "tools/no_such_tool.py"),
        (2, "benchmarks/none.md"),
    ]
    assert internal_words(page) == [(3, "Plan"), (7, "Plan")]
    page.write_text("Lowering the learning rate helps.\nEach op is lowered to a kernel call.\n")
    assert internal_words(page) == [(2, "lowering")]
