"""The project's modules import each other without a circle, TYPE_CHECKING imports included."""

from __future__ import annotations

import ast
import re

from .conftest import PROJECT_ROOT


def module_imports() -> dict[str, set[str]]:
    """Module -> the project's modules it imports anywhere in its source (function bodies and
    ``if TYPE_CHECKING:`` blocks too)."""
    files = {
        ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for folder in ("utilities", "models")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
    }
    files["generate_synthetic_data"] = PROJECT_ROOT / "generate_synthetic_data.py"
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                             for a in node.names)  # fmt: skip
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = (found & files.keys()) - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                found.append(sorted([v, *group]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_the_projects_modules():
    graph = module_imports()
    assert {"utilities.pipeline", "utilities.engines", "models.records"} <= graph.keys()
    assert "utilities.config" in graph["utilities.pipeline"] or "utilities.config" in graph["utilities.verify"]
    assert circles(graph) == []


def test_the_readme_layout_table_names_every_module():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w./]+\.py)`", table))
    missing = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("utilities", "models")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        if path.name != "__init__.py" or path.parent.name == "engines"
        if str(path.relative_to(PROJECT_ROOT)) not in named and path.name not in named
    ]
    assert not missing, f"README's Layout table does not name {missing}"
