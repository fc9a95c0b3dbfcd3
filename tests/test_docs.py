"""Every ```python block in docs/*.md runs, in order, on SQLite.

Each page is one test: its blocks run top to bottom in one fresh namespace, in a temporary
working directory (so a page that writes ``app.db`` leaves nothing behind). Blocks fenced as
```python-norun (or any other language) are shown to readers but not run. A failure names
the page, the block number and the block's first line of every failing block, with the
traceback of the first.
"""

import pathlib
import re
import traceback

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))

# A fence opens with ``` and an info string; the block runs only when it is exactly "python".
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


def python_blocks(text):
    """[(number, first_line_number, source)] for each ```python block, numbered from 1."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        info = opening.group("info").strip()
        start = index + 1
        end = start
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if info == "python":
            blocks.append((len(blocks) + 1, start + 1, "\n".join(lines[start:end]) + "\n"))
        index = end + 1
    return blocks


def test_pages_exist():
    names = {page.name for page in PAGES}
    for required in ("index.md", "install.md", "models.md", "databases.md", "queries.md", "performance.md"):
        assert required in names, f"docs/{required} is missing"


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    failures = []
    try:
        for number, line, source in python_blocks(page.read_text(encoding="utf-8")):
            # Leading newlines make traceback line numbers those of the Markdown file.
            code = compile("\n" * (line - 1) + source, f"docs/{page.name}", "exec")
            try:
                exec(code, namespace)  # noqa: S102 - the documentation's own examples
            except Exception as exc:  # noqa: BLE001 - report every failing block with its location
                first = next((text for text in source.splitlines() if text.strip()), "")
                summary = (
                    f"docs/{page.name}: python block {number} (line {line}: {first.strip()!r}) "
                    f"raised {type(exc).__name__}: {exc}"
                )
                details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                failures.append((summary, details))
    finally:
        _close_databases(namespace)
    if failures:
        # Later blocks still run after a failure (they share one namespace), so one report
        # lists every failing block; the first one's traceback is shown in full.
        listing = "\n".join(summary for summary, _details in failures)
        pytest.fail(f"{listing}\n\n{failures[0][1]}", pytrace=False)


def _close_databases(namespace):
    import tinyorm

    for value in list(namespace.values()):
        if isinstance(value, tinyorm.Database):
            value.close_all()  # closing is quiet even for a connection a page broke
