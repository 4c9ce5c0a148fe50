"""Prints how long each documentation page's script took (tests/api/test_docs.py)."""

import importlib.util
import sys
from pathlib import Path


def load_docs_pages():
    """tests/api/docs_pages.py, loaded once by path (the tests import in importlib mode)."""
    if "docs_pages" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "docs_pages", Path(__file__).with_name("docs_pages.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["docs_pages"] = module
        spec.loader.exec_module(module)
    return sys.modules["docs_pages"]


load_docs_pages()  # the docs tests `import docs_pages` from here


def pytest_terminal_summary(terminalreporter, config):
    times = load_docs_pages().page_times(config)
    if not times:
        return
    terminalreporter.section("documentation pages: seconds per page (wall / child CPU)")
    for page, (wall, cpu) in sorted(times.items(), key=lambda item: -item[1][0]):
        terminalreporter.write_line(f"{wall:7.1f} {cpu:7.1f}  {page}")
    wall = sum(w for w, _ in times.values())
    cpu = sum(c for _, c in times.values())
    terminalreporter.write_line(f"{wall:7.1f} {cpu:7.1f}  all {len(times)} pages")
