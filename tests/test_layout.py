"""The package's layout rules (issue 22), checked by reading the source with `ast`.

Nothing under rag/ is imported here, so a broken module cannot hide a broken rule:
- no import cycle among rag modules, counting imports inside functions, under
  `if TYPE_CHECKING:`, `import_module("rag.…")` calls and "rag.module:function" strings;
- no .py file under rag/ over 500 lines;
- every .py file under rag/ starts with a module docstring;
- no module under rag/cli/ constructs an embedder, a vector store or a generator itself.

The helpers take the package folder as an argument, so the self-tests at the end run them on
small synthetic packages and show that each rule can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "rag"
MAX_LINES = 500

# Classes that load a model or build an index: the CLI asks the library for these, it never
# constructs them (issue 22).
CONSTRUCTORS = frozenset(
    {
        "E5Embedder",
        "HashEmbedder",
        "FaissStore",
        "MilvusStore",
        "LlamaGenerator",
        "OpenAIGenerator",
    }
)
# Any call of a class named like one (a backend added later) counts as constructing it too.
# Importing the protocols (Embedder, VectorStore, Generator) for annotations is fine.
_CONSTRUCTOR_LIKE = re.compile(r"[A-Z]\w*(Embedder|Store|Generator)")
_STORE_LIKE = re.compile(r"store", re.IGNORECASE)
# "rag.ingest.extract.pdf:extract_pdf": a module named in a string, imported later.
_ENTRY_POINT = re.compile(r"(?P<module>rag(?:\.\w+)*):\w+(?:\.\w+)*")
_IMPORT_FUNCTIONS = frozenset({"import_module", "__import__"})

Graph = Mapping[str, Iterable[str]]


# --- reading the package ---------------------------------------------------------------------


def module_name(path: Path, package: Path) -> str:
    """rag/x/y.py is rag.x.y; a package's __init__.py is the package (rag/x/__init__.py: rag.x)."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def modules(package: Path) -> dict[str, Path]:
    return {module_name(p, package): p for p in python_files(package)}


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _relative_base(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of `level` dots starts from."""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    return ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)


def imported_modules(path: Path, package: Path, known: Mapping[str, Path]) -> list[tuple[str, int]]:
    """Every rag module `path` imports, wherever the import is (module level, inside a
    function, under `if TYPE_CHECKING:`), with its line. `from rag.x import y` is rag.x.y when
    that is a module, else rag.x. The implicit import of parent packages is not counted."""
    root = package.name
    this = module_name(path, package)
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []

    def ours(name: str) -> bool:
        return name == root or name.startswith(root + ".")

    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if ours(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _relative_base(this, is_package, node.level)
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if not ours(source):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append((submodule if submodule in known else source, node.lineno))
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0] if node.args else None
            if (
                called in _IMPORT_FUNCTIONS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and ours(first.value)
            ):
                found.append((first.value, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _ENTRY_POINT.fullmatch(node.value)
            if match and ours(match["module"]):
                found.append((match["module"], node.lineno))
    return sorted(found, key=lambda item: (item[1], item[0]))


def import_graph(package: Path) -> dict[str, dict[str, list[str]]]:
    """module -> imported module -> where ("rag/x/y.py:12"), self-imports left out."""
    known = modules(package)
    graph: dict[str, dict[str, list[str]]] = {name: {} for name in known}
    for name, path in known.items():
        where = path.relative_to(package.parent).as_posix()
        for target, line in imported_modules(path, package, known):
            if target == name:
                continue
            places = graph[name].setdefault(target, [])
            if f"{where}:{line}" not in places:
                places.append(f"{where}:{line}")
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted({*graph, *(t for targets in graph.values() for t in targets)})

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return sorted(found)


def describe_cycle(component: list[str], graph: Mapping[str, Mapping[str, list[str]]]) -> str:
    members = set(component)
    edges = [
        f"    {source} -> {target} ({', '.join(where)})"
        for source in component
        for target, where in sorted(graph.get(source, {}).items())
        if target in members
    ]
    return "cycle among " + ", ".join(component) + ":\n" + "\n".join(edges)


def long_files(package: Path, limit: int = MAX_LINES) -> dict[str, int]:
    counts = {
        p.relative_to(package.parent).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in python_files(package)
    }
    return {name: n for name, n in counts.items() if n > limit}


def missing_docstrings(package: Path) -> list[str]:
    return [
        p.relative_to(package.parent).as_posix()
        for p in python_files(package)
        if ast.get_docstring(_parse(p)) is None
    ]


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _receiver_name(node: ast.expr) -> str | None:
    """`store` in store.build, `FaissStore` in rag.index.store.FaissStore.build."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _called_name(node.func)
    return None


def constructions(path: Path) -> list[str]:
    """Where `path` imports or calls a constructor of an embedder, store or generator, or
    calls `.build(` on something named like a store; in line order."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                if alias.name.rsplit(".", 1)[-1] in CONSTRUCTORS:
                    found.append((node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.Call):
            name = _called_name(node.func)
            if name is not None and (name in CONSTRUCTORS or _CONSTRUCTOR_LIKE.fullmatch(name)):
                found.append((node.lineno, f"calls {name}(...)"))
            elif name == "build" and isinstance(node.func, ast.Attribute):
                receiver = _receiver_name(node.func.value)
                if receiver is not None and _STORE_LIKE.search(receiver):
                    found.append((node.lineno, f"calls {receiver}.build(...)"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def cli_constructions(package: Path) -> dict[str, list[str]]:
    cli = package / "cli"
    found = {
        p.relative_to(package.parent).as_posix(): constructions(p)
        for p in (python_files(cli) if cli.is_dir() else [])
    }
    return {name: where for name, where in found.items() if where}


# --- the rules -------------------------------------------------------------------------------


def test_no_import_cycle_in_rag() -> None:
    graph = import_graph(PACKAGE)
    found = cycles(graph)
    assert not found, "\n".join(describe_cycle(c, graph) for c in found)


def test_no_python_file_over_500_lines() -> None:
    found = long_files(PACKAGE)
    assert not found, "over 500 lines: " + ", ".join(f"{n} ({c})" for n, c in found.items())


def test_every_module_has_a_docstring() -> None:
    found = missing_docstrings(PACKAGE)
    assert not found, "no module docstring: " + ", ".join(found)


def test_cli_does_not_construct_embedders_stores_or_generators() -> None:
    found = cli_constructions(PACKAGE)
    assert not found, "\n".join(f"{name}: {'; '.join(w)}" for name, w in found.items())


# --- the checks themselves can fail ----------------------------------------------------------


def test_cycle_finder_on_synthetic_graphs() -> None:
    assert cycles({"a": ["b"], "b": ["a"]}) == [["a", "b"]]
    assert cycles({"a": ["b"], "b": []}) == []
    assert cycles({"a": ["b"]}) == []  # b appears only as a target
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["a", "c"]}) == [
        ["a", "b"],
        ["c", "d"],
    ]


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "rag"


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "rag/__init__.py": '"""Root."""\n',
            "rag/x/__init__.py": '"""X."""\n',
            "rag/x/y.py": '"""Y."""\n',
            "rag/x/z.py": '"""Z."""\n',
            "rag/top.py": (
                '"""Top."""\n'
                "from typing import TYPE_CHECKING\n"
                "import json\n"
                "from rag.x import y\n"  # a submodule: rag.x.y
                "from rag.x import CONSTANT\n"  # a name: rag.x
                "if TYPE_CHECKING:\n"
                "    from rag.late import Late\n"
                "def f():\n"
                "    import rag.inner\n"
                "    from importlib import import_module\n"
                "    return import_module('rag.dynamic')\n"
                "TABLE = {'k': 'rag.x.z:run'}\n"
                "NOT_AN_ENTRY = 'see rag.x.z: it runs'\n"
            ),
            "rag/x/rel.py": '"""Rel."""\nfrom . import y\nfrom .z import run\nfrom .. import top\n',
        },
    )
    graph = import_graph(package)
    assert set(graph["rag.top"]) == {
        "rag.x.y",
        "rag.x",
        "rag.late",
        "rag.inner",
        "rag.dynamic",
        "rag.x.z",
    }
    assert graph["rag.top"]["rag.x.y"] == ["rag/top.py:4"]
    assert set(graph["rag.x.rel"]) == {"rag.x.y", "rag.x.z", "rag.top"}
    assert graph["rag.x.y"] == {}  # the parent packages it implicitly imports do not count


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "rag/__init__.py": '"""Root."""\n',
            "rag/a.py": '"""A."""\nfrom rag.b import g\n',
            "rag/b.py": '"""B."""\ndef g():\n    from rag.a import h\n',
            "rag/c.py": '"""C."""\nimport rag.a\n',
        },
    )
    graph = import_graph(package)
    assert cycles(graph) == [["rag.a", "rag.b"]]
    assert "rag.b -> rag.a (rag/b.py:3)" in describe_cycle(["rag.a", "rag.b"], graph)


def test_long_files_and_missing_docstrings_are_listed(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "rag/__init__.py": "",
            "rag/short.py": '"""Short."""\n' + "x = 1\n" * 499,
            "rag/long.py": '"""Long."""\n' + "x = 1\n" * 500,
            "rag/comment_first.py": "# a comment is no docstring\nx = 1\n",
        },
    )
    assert long_files(package) == {"rag/long.py": 501}
    assert missing_docstrings(package) == ["rag/__init__.py", "rag/comment_first.py"]


def test_cli_constructions_are_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "rag/cli/__init__.py": '"""CLI."""\n',
            "rag/cli/ok.py": (
                '"""Asks the library."""\n'
                "from rag.embed.embedder import Embedder\n"
                "from rag.session import open_session\n"
                "def run(embedder: Embedder):\n"
                "    return open_session().build()\n"
            ),
            "rag/cli/bad.py": (
                '"""Builds its own."""\n'
                "from rag.embed.embedder import E5Embedder\n"
                "import rag.index.store as stores\n"
                "def run(store):\n"
                "    E5Embedder('m')\n"
                "    stores.FaissStore.build([])\n"
                "    store.build([])\n"
                "    return SomeNewGenerator()\n"
            ),
        },
    )
    assert cli_constructions(package) == {
        "rag/cli/bad.py": [
            "line 2: imports E5Embedder",
            "line 5: calls E5Embedder(...)",
            "line 6: calls FaissStore.build(...)",
            "line 7: calls store.build(...)",
            "line 8: calls SomeNewGenerator(...)",
        ]
    }
