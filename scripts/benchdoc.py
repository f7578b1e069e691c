"""Shared by the benchmark scripts: their common options and how they publish their figures
(printed, and with --write put in their own section of docs/benchmarks.md)."""
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parser(doc: str, quick_help: str, runs: int | None = None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes: --write FILE, --quick (CI mode,
    described by quick_help) and, when runs is given, --runs N defaulting to it."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if runs is not None:
        ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--write", help="put the results in their section of this markdown file")
    ap.add_argument("--quick", action="store_true", help=quick_help)
    return ap


def publish(text: str, write: str | None, name: str) -> None:
    """Print the figures and, when write names a file (relative to the repository), replace the
    section NAME in it."""
    print(text)
    if write:
        write_section(ROOT / write, name, text)


def load_module(name: str, file: str):
    """Import another benchmark script (their file names have dashes) to reuse its generators."""
    from importlib import util
    spec = util.spec_from_file_location(name, ROOT / "scripts" / file)
    m = util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


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
