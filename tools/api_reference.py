"""Writes the API reference, `docs/api/*.md`, from the docstrings of the public API.

    python tools/api_reference.py                 # rewrites docs/api/
    python tools/api_reference.py --out DIR       # writes the pages into DIR instead

One page per public module of `kerasish` (`layers`, `models`, `callbacks`, ...: the modules
`kerasish/__init__.py` exports, except the engine `kerasish.backend`) and one, `kerasish.md`,
for the names of the package itself.
Each public name gets its signature and its docstring's text; a class also gets its public
methods and properties defined in it. Docstring examples are shown as ```pycon blocks: the
docstring tests run them (`tests/api/test_docs.py`), the page runner does not. A test
regenerates the pages and checks the committed ones equal them.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api"
HEADER = "<!-- Written by `python tools/api_reference.py` from the docstrings. -->\n"
NOTE = (
    "*Written from the docstrings by `python tools/api_reference.py`. Examples are ```pycon "
    "blocks: the docstring tests run them; the documentation page runner does not.*\n\n"
)
ENGINE = {"backend"}  # the engine itself: docs/internals/ describes it
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # object reprs in defaults: not reproducible


def package():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("kerasish")


def public_modules() -> list:
    """The submodule names `kerasish` exports, in order."""
    kerasish = package()
    return [
        name
        for name in kerasish.__all__
        if inspect.ismodule(getattr(kerasish, name)) and name not in ENGINE
    ]


def public_names(module) -> list:
    """(name, object) of a module's public API: its `__all__`, else the names it defines or
    imports that do not start with an underscore (functions, classes, submodules)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value))
            and not (inspect.ismodule(value) and not value.__name__.startswith(module.__name__))
        ]
    return sorted((name, getattr(module, name)) for name in names)


def signature(obj) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return ADDRESS.sub("", text)


def docstring_markdown(doc: str | None) -> str:
    """The docstring's text, its doctest examples as ```pycon blocks (a blank line ends an
    example, as in doctest)."""
    if not doc:
        return "*(no docstring)*\n"
    out, example, indent, item_indent = [], None, 0, 0
    for line in doc.splitlines():
        stripped = line.lstrip()
        if example is None and stripped.startswith(">>>"):
            example, indent = [], len(line) - len(stripped)
        if example is not None:
            if stripped:
                example.append(line[indent:] if line[:indent].isspace() else stripped)
                continue
            out += ["```pycon", *example, "```"]
            example = None
        indent_here = len(line) - len(stripped)
        if not stripped or not indent_here:
            item_indent = 0
            out.append(stripped)
        elif not item_indent or indent_here <= item_indent:  # "Args:" items become a list
            item_indent = indent_here
            out.append(stripped if stripped.startswith(("-", "*")) else "- " + stripped)
        else:
            out.append("  " + stripped)  # an item's continuation
    if example is not None:
        out += ["```pycon", *example, "```"]
    return "\n".join(out).strip() + "\n"


@functools.cache
def public_classes() -> frozenset:
    """Every class with a section of its own in the pages."""
    kerasish = package()
    found = {value for value in vars(kerasish).values() if inspect.isclass(value)}
    for name in public_modules():
        for _, value in public_names(getattr(kerasish, name)):
            found |= {value} if inspect.isclass(value) else set()
            if inspect.ismodule(value):
                found |= {inner for _, inner in public_names(value) if inspect.isclass(inner)}
    return frozenset(found)


def class_members(cls, documented: set) -> list:
    """(name, object) of the public methods and properties with a docstring that `cls`
    defines or inherits from a class without a section of its own (`Model.fit` comes from a
    private base; `Dense` does not repeat `Layer`'s methods)."""
    members, claimed = {}, set()
    for base in cls.__mro__:
        if base.__module__ == "builtins":
            continue
        skipped = base is not cls and base in documented
        for name, value in vars(base).items():
            if name.startswith("_") or name in claimed:
                continue
            claimed.add(name)  # a documented base's own version hides those below it
            if skipped:
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if (inspect.isfunction(value) or isinstance(value, property)) and value.__doc__:
                members[name] = value
    return sorted(members.items())


def entry(qualname: str, obj, level: int = 2) -> str:
    """One name's section: heading, signature, docstring."""
    heading = "#" * level
    if inspect.ismodule(obj):
        parts = [f"{heading} `{qualname}`\n\n", docstring_markdown(inspect.getdoc(obj)), "\n"]
        for name, value in public_names(obj):
            if inspect.isroutine(value) or inspect.isclass(value):
                parts.append(entry(f"{qualname}.{name}", value, level + 1))
        return "".join(parts)
    if isinstance(obj, property):
        return f"{heading} `{qualname}` (property)\n\n{docstring_markdown(obj.__doc__)}\n"
    kind = "class " if inspect.isclass(obj) else ""
    parts = [
        f"{heading} `{qualname}`\n\n",
        f"```text\n{kind}{qualname.split('.')[-1]}{signature(obj)}\n```\n\n",
        docstring_markdown(inspect.getdoc(obj) if inspect.isclass(obj) else obj.__doc__ and
                           inspect.cleandoc(obj.__doc__)),
        "\n",
    ]  # fmt: skip
    if inspect.isclass(obj):
        for name, member in class_members(obj, public_classes()):
            parts.append(entry(f"{qualname}.{name}", member, level + 1))
    return "".join(parts)


def module_page(name: str) -> str:
    module = importlib.import_module(f"kerasish.{name}")
    parts = [HEADER, f"# `kerasish.{name}`\n\n", NOTE, docstring_markdown(inspect.getdoc(module))]
    parts.append("\n")
    names = public_names(module)
    parts.append("Contents: " + ", ".join(f"`{n}`" for n, _ in names) + ".\n\n")
    parts += [entry(f"{name}.{n}", value) for n, value in names]
    return "".join(parts).rstrip("\n") + "\n"


def package_page() -> str:
    kerasish = package()
    modules = public_modules()
    parts = [HEADER, "# `kerasish`\n\n", NOTE, docstring_markdown(inspect.getdoc(kerasish))]
    parts.append("\n## Modules\n\n")
    parts += [f"- [`kerasish.{m}`]({m}.md)\n" for m in modules]
    parts.append("\n")
    for name in kerasish.__all__:
        value = getattr(kerasish, name)
        if not inspect.ismodule(value):
            parts.append(entry(name, value))
    return "".join(parts).rstrip("\n") + "\n"


def pages() -> dict:
    """{file name: markdown} of every page."""
    pages = {"kerasish.md": package_page()}
    for name in public_modules():
        pages[f"{name}.md"] = module_page(name)
    return pages


def documented_modules() -> set:
    """The modules that define a documented name: their doctests are the pages' examples."""
    found = set()

    def visit(obj):
        module = inspect.getmodule(obj.fget if isinstance(obj, property) else obj)
        if module is not None and module.__name__.split(".")[0] in ("kerasish", "backend"):
            found.add(module.__name__)
        if inspect.isclass(obj):
            for _, member in class_members(obj, public_classes()):
                visit(member)

    kerasish = package()
    for name in public_modules():
        for _, value in public_names(getattr(kerasish, name)):
            visit(value)
            if inspect.ismodule(value):
                for _, inner in public_names(value):
                    visit(inner)
    return found


def write(out: Path) -> list:
    """Write every page into `out` (removing pages of names that are gone); the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = pages()
    for stale in set(p.name for p in out.glob("*.md")) - set(written):
        (out / stale).unlink()
    for name, text in written.items():
        (out / name).write_text(text)
    return sorted(written)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the pages")
    args = parser.parse_args(argv)
    names = write(args.out)
    print(f"wrote {len(names)} pages into {args.out}")


if __name__ == "__main__":
    main()
