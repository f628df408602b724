"""The package's shape: imports point down the layers ARCHITECTURE.md names, no import
circles (but a registry's own plug-ins), small modules, no private LangGraph imports."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
MAX_LINES = 1000
"""Not a design rule (that is one concept per module, which a test cannot read), only a
guard against a module that grows without anyone deciding to: past this, split it by
concept, never mechanically."""
REGISTRIES = {"chatbench.models.registry", "chatbench.simulators.registry",
              "chatbench.runner.executors"}
"""Registries import their own plug-ins (on first use), which import them back: the one
import circle allowed."""


LAYERS = (
    ("cli", "__init__", "__main__"),
    ("runner", "reporting", "paper", "training", "baselines", "testing", "interop"),
    ("graphs",),
    ("nodes",),
    ("simulators", "scoring"),
    ("models",),
    ("config", "state", "context", "records", "storage", "data", "personas", "prompts",
     "transcript", "seeding", "_concurrency"),
    ("datatypes", "errors", "_text", "_json", "_files", "_yaml", "_lazy"),
)
"""ARCHITECTURE.md's layers, top first, by the first part of a module's name under
``chatbench``: a module imports only from its own layer or those below."""


def _layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else "__init__"
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def _modules() -> dict[str, Path]:
    modules = {}
    for path in (SRC / "chatbench").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The chatbench modules ``name`` imports, at the top or inside functions (not in
    ``TYPE_CHECKING`` blocks); importing a submodule is an edge to it, not to the package that
    holds it. A registry's imports of its own package's modules (its plug-ins) are left out."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(base)
    edges = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target.startswith("chatbench.") and target != name:
            edges.add(target)
    if name in REGISTRIES:
        edges = {edge for edge in edges if edge.rpartition(".")[0] != package}
    return edges


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under an ``if TYPE_CHECKING:``."""
    nodes = []
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        nodes.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_runs_away_in_length():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_module_has_a_layer():
    assert [name for name in _modules() if _layer(name) is None] == []


def test_imports_point_down_the_layers():
    modules = _modules()
    upward = [f"{name} -> {target}" for name, path in sorted(modules.items())
              for target in sorted(_imports(name, path, modules))
              if _layer(target) < _layer(name)]
    assert upward == []


def test_the_layer_check_reads_the_layers_as_architecture_md_names_them():
    text = (SRC.parent / "ARCHITECTURE.md").read_text()
    assert _layer("chatbench.storage.conversations") > _layer("chatbench.scoring.metrics")
    for names in LAYERS:
        for name in names:
            if not name.startswith("_"):
                assert f"`{name}" in text, name


def test_no_import_circles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_langgraph_imports():
    private = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "langgraph") and any(part.startswith("_") for part in node.module.split(".")):
                private.append(f"{name}: {node.module}")
    assert private == []
