"""The layers of crawler/ stay as docs/ARCHITECTURE.md draws them: checked on the source (ast).

- no import cycle between modules of the package;
- nothing outside crawler/cli/ imports the CLI (it is a leaf);
- no module outside the source adapters (crawler/sources/) hard-codes a site's name, address or
  language list: they ask the source.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "crawler"

# What only an adapter may say: the site's host, and its language codes as a list.
SITE_NAME = re.compile(r"president\.uz", re.IGNORECASE)
LANGUAGE_LIST = {"uz", "oz", "ru", "en"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:`, which name types for a checker and are
    never imported when the program runs."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules `path` imports, at any depth of the file (lazy imports count)."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports_of(path, known) - {name} for name, path in modules().items()}


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports, ignoring the edge from a module to its own package's __init__ (Python
    runs a package's __init__ before any of its modules; that edge is not a dependency)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target in _parents(node):
                continue
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycles():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_nothing_imports_the_cli():
    offenders = {name: sorted(t for t in targets if t == "crawler.cli" or t.startswith("crawler.cli."))
                 for name, targets in graph().items()
                 if name != "crawler.cli" and not name.startswith("crawler.cli.")
                 and name != "crawler.__main__"}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_model_and_sources_are_the_bottom_layer():
    """The model imports nothing of ours; sources import only the model, text normalization and each other."""
    edges = graph()
    assert edges["crawler.model"] == set()
    for name, targets in edges.items():
        if name.startswith("crawler.sources"):
            allowed = {"crawler.model", "crawler.normalize", "crawler"} | {t for t in targets if t.startswith("crawler.sources")}
            assert targets <= allowed, f"{name} imports {sorted(targets - allowed)}"


def site_knowledge(path: Path) -> list[str]:
    """Lines where a module names the site, or writes a list of the site's language codes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SITE_NAME.search(node.value):
            found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(values & LANGUAGE_LIST) >= 3:
                found.append(f"{path.name}:{node.lineno}: a list of the site's languages")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(
                r"when 'uz' then|'uz', 'oz'", node.value):
            found.append(f"{path.name}:{node.lineno}: the site's language order in SQL")
    return found


def test_only_the_adapters_know_the_site():
    # crawler/topics/ holds term lists per language: its codes name lexicons, not a site.
    outside = [p for p in PACKAGE.rglob("*.py")
               if "sources" not in p.relative_to(PACKAGE).parts and "topics" not in p.relative_to(PACKAGE).parts]
    hits = [hit for path in outside for hit in site_knowledge(path)]
    assert hits == []


def test_the_site_check_catches_what_it_is_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('SITE = "https://president.uz"\nLANGS = ("uz", "oz", "ru", "en")\n'
                      'ORDER = "case lang when \'uz\' then 0 end"\n', encoding="utf-8")
    assert len(site_knowledge(sample)) == 3


@pytest.mark.slow
def test_the_wheel_holds_no_test_fixture(tmp_path):
    """What a user installs: the package and its data, no local test site, no tests."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("presswatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name == "crawler/cli/__init__.py" for name in names)
    assert any(name == "crawler/data/topics.toml" for name in names)
    assert {"crawler/webview/templates/home.html", "crawler/webview/static/presswatch.css"} <= set(names)
    leaked = [n for n in names if n.startswith(("devsites/", "tests/", "bench/", "cassettes/"))
              or "mirror" in n]
    assert leaked == []
