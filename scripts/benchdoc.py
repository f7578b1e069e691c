"""Shared by the benchmark scripts: replace one section of docs/benchmarks.md."""
from pathlib import Path


def write_section(path: Path, name: str, text: str) -> None:
    """Replace the text between <!-- NAME --> and <!-- /NAME --> (appended when missing)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    old = path.read_text() if path.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail.lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)
