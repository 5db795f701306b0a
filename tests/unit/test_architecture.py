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
