"""The shape of the code base: thin pages, services that don't know Streamlit, production never imports the sandbox."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("pages"), ids=lambda p: p.name)
def test_pages_are_thin(path: Path) -> None:
    banned = ("sqlmodel", "sqlalchemy", "httpx", "sqlite3", "services.db", "services.gateway.client")
    bad = {m for m in imported_modules(path) if m.startswith(banned)}
    assert not bad, f"{path.name} imports {bad}: pages call services, they don't talk SQL or HTTP"


@pytest.mark.parametrize("path", files("services"), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_never_import_streamlit_or_the_app(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.startswith(("streamlit", "dashboard", "pages", "sandbox"))}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("folder", ["services", "dashboard", "pages"])
def test_production_code_never_imports_the_sandbox(folder: str) -> None:
    offenders = [p.relative_to(ROOT) for p in files(folder) if any(m.startswith("sandbox")
                                                                   for m in imported_modules(p))]
    assert not offenders


def test_no_float_money_in_services() -> None:
    offenders = []
    for path in files("services"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
                argument = " ".join(ast.unparse(arg) for arg in node.args).lower()
                if re.search(r"amount|price|fils|total|refund|money|kwd", argument):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} float({argument})")
    assert not offenders, f"float() in services (money must stay integer fils): {offenders}"


# ---------------------------------------------------------------- the import graph: no cycles, Streamlit on top

LAYERS = ("dashboard", "services", "sandbox")
#: App modules that run outside a Streamlit session (routes, start-up, background sync, cron): no Streamlit, even
#: through what they import.
STREAMLIT_FREE = ("dashboard.runtime", "dashboard.routes", "dashboard.customer_pages", "dashboard.background",
                  "dashboard.cli_sync", "dashboard.settings")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:`` (a type-only back-reference is not an import at run time)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def import_graph(root: Path, layers: tuple[str, ...] = LAYERS) -> dict[str, set[str]]:
    """Module → project modules it imports, anywhere in the file (inside functions too), ``TYPE_CHECKING`` aside.

    ``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg`` (its ``__init__``).
    Importing ``pkg.sub`` from outside ``pkg`` is also an edge to ``pkg``: Python runs ``pkg/__init__`` first, so a
    facade that imports back into the importer is a real cycle (it failed the app's start once). From inside
    ``pkg`` it is an edge to ``pkg.sub`` only: a facade importing its own submodules is the package pattern.
    """
    paths = {_module_name(root, p): p for layer in layers for p in sorted((root / layer).rglob("*.py"))}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_only(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in paths else known(base))
        parents = set()
        for target in (t for t in targets if t is not None):
            parts = target.split(".")
            for n in range(1, len(parts)):
                parent = ".".join(parts[:n])
                if parent in paths and not (name == parent or name.startswith(parent + ".")):
                    parents.add(parent)
        graph[name] = {t for t in targets | parents if t is not None and t != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _imports_streamlit(root: Path, module: str) -> bool:
    path = root / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return any(m == "streamlit" or m.startswith("streamlit.") for m in imported_modules(path))


def test_no_import_cycles_in_the_app_services_or_sandbox() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 80  # the walk found the code base, not an empty folder
    cycles = import_cycles(graph)
    detail = ["  " + " ↔ ".join(c) + ": " + "; ".join(f"{m} → {sorted(graph[m] & set(c))}" for m in c)
              for c in cycles]
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(detail)


def test_the_cycle_check_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    (tmp_path / "services" / "pkg").mkdir(parents=True)
    (tmp_path / "services" / "__init__.py").write_text("")
    (tmp_path / "services" / "pkg" / "__init__.py").write_text("from services.pkg.a import f\n")
    (tmp_path / "services" / "pkg" / "a.py").write_text("def f():\n    from services import b\n")
    (tmp_path / "services" / "b.py").write_text("from services.pkg import f\n")
    (tmp_path / "services" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from services import d\n")
    (tmp_path / "services" / "d.py").write_text("from services import c\n")
    graph = import_graph(tmp_path, ("services",))
    assert graph["services.pkg"] == {"services.pkg.a"}  # a facade importing its submodule is no edge back
    assert import_cycles(graph) == [["services.b", "services.pkg", "services.pkg.a"]]


@pytest.mark.parametrize("layer", ["services", "sandbox"])
def test_streamlit_is_imported_only_by_the_app(layer: str) -> None:
    graph = import_graph(ROOT)
    offenders = sorted(m for m in graph if m.split(".")[0] == layer and _imports_streamlit(ROOT, m))
    assert not offenders, f"{offenders} import streamlit: only dashboard/ and pages/ may"


def test_routes_start_up_and_background_code_runs_without_streamlit() -> None:
    """What runs outside a browser session (webhook and landing routes, background sync, cron) must not pull in
    Streamlit through any import, so the one app context (:mod:`dashboard.runtime`) serves them all."""
    graph = import_graph(ROOT)
    for start in STREAMLIT_FREE:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        assert not [m for m in sorted(seen) if _imports_streamlit(ROOT, m)], f"{start} reaches streamlit"


def _cached_functions(path: Path) -> dict[str, list[str]]:
    """Functions decorated with ``st.cache_data``/``st.cache_resource`` → their parameter names."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and any("cache_data" in ast.unparse(d) or "cache_resource" in
                                                      ast.unparse(d) for d in node.decorator_list):
            found[node.name] = [a.arg for a in node.args.args]
    return found


def test_cached_reads_live_in_dashboard_reads_only() -> None:
    elsewhere = {str(p.relative_to(ROOT)): list(_cached_functions(p)) for p in [*files("pages"), *files("dashboard")]
                 if p.name not in ("reads.py", "state.py") and _cached_functions(p)}
    assert not elsewhere, f"cached reads outside dashboard/reads.py: {elsewhere}"


def test_every_cached_read_is_keyed_by_database_and_person() -> None:
    """Streamlit leaves ``_``-prefixed parameters out of the key: the database and the person must be hashed."""
    cached = _cached_functions(ROOT / "dashboard" / "reads.py")
    assert len(cached) >= 6
    for name, params in cached.items():
        assert params[:3] == ["database", "email", "role"], f"{name}{tuple(params)} is not keyed by database+person"


def test_every_import_of_our_own_code_resolves() -> None:
    """mypy is told to ignore missing imports (for third-party stubs), so a stale path to one of our own moved
    modules would pass it silently; this finds every ``import``/``from`` of our packages that names no module."""
    import importlib.util

    ours = ("services", "dashboard", "sandbox", "pages", "bench", "tests", "migrations")
    missing = []
    for path in sorted(ROOT.glob("**/*.py")):
        if ".venv" in path.parts or path.relative_to(ROOT).parts[0] not in ours:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.split(".")[0] in ours and importlib.util.find_spec(name) is None:
                    missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == []
