"""Every format the README lists is read by the core install alone.

CI installs the test and bench extras, which once hid that saved web pages needed
lxml_html_clean (only the extras brought it in): a fresh install crashed on the first .html
file. Here each format's reader runs on a real file in a fresh interpreter, and every
distribution whose modules it imported must be required by the core dependencies in
pyproject.toml, directly or through them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT / "tests" / "fixtures" / "formats"

# One real file per format the README lists (.txt and .md share the text reader).
FILES = {
    ".txt": ROOT / "corpus" / "000_a143eb185df1b7b2.txt",
    ".md": ROOT / "tests" / "data" / "injection.md",
    ".pdf": FORMATS / "000_a143eb185df1b7b2.pdf",
    ".docx": FORMATS / "001_1e43fc4feda8cb6f.docx",
    ".pptx": FORMATS / "002_a3962cbbc0e7db72.pptx",
    ".odt": FORMATS / "003_6bea5cbf75ef0922.odt",
    ".odp": FORMATS / "002_a3962cbbc0e7db72.odp",
    ".html": FORMATS / "004_0bea1a8d285e02fc.html",
}

_READ = """
import json, sys
from pathlib import Path
before = set(sys.modules)
from rag.ingest.extract import extract
path = Path(sys.argv[1])
text = extract(path.read_bytes(), path.name).text
print(json.dumps({"chars": len(text), "modules": sorted(set(sys.modules) - before)}))
"""


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def core_closure(dependencies: list[str]) -> set[str]:
    """The distributions the core dependencies bring in (no extras), as normalised names."""
    seen: set[str] = set()
    todo = [Requirement(d) for d in dependencies]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = _key(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(req.name).requires or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: nothing it needs can be imported either
        todo.extend(Requirement(r) for r in requires)
    return seen


def _core_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def distributions_used(path: Path) -> set[str]:
    """The distributions (normalised names) whose modules reading `path` imported."""
    run = subprocess.run(
        [sys.executable, "-c", _READ, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0, f"reading {path.name} failed:\n{run.stderr[-2000:]}"
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["chars"] > 0, f"{path.name}: no text read"
    owners = metadata.packages_distributions()
    top = {m.split(".")[0] for m in found["modules"]}
    return {_key(d) for m in top for d in owners.get(m, []) if _key(d) != "sovereign-rag"}


@pytest.mark.parametrize("suffix", sorted(FILES))
def test_each_format_reads_with_core_dependencies_only(suffix: str) -> None:
    closure = core_closure(_core_dependencies())
    outside = sorted(distributions_used(FILES[suffix]) - closure)
    assert not outside, (
        f"reading a {suffix} file imports {', '.join(outside)}, which the core dependencies "
        "in pyproject.toml do not bring in: a fresh `pip install -e .` would fail on it"
    )


def test_closure_misses_a_format_library_removed_from_core() -> None:
    """The check above can fail: without python-docx in the core list, .docx is outside."""
    without = [d for d in _core_dependencies() if not d.startswith("python-docx")]
    assert "python-docx" not in core_closure(without)
    assert "python-docx" in distributions_used(FILES[".docx"])
