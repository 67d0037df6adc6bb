"""The rooms keep their rules: production code never imports the sandbox (the definitions' wiring
injects it), and the computation modules never import Dagster."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "smart_trader"
# The definitions wire the sandbox in; the sandbox's own modules are the sandbox.
SANDBOX_WIRING = {PACKAGE / "definitions.py"}
PURE = ["ingest", "pnl", "days.py", "gold_rules.py", "gold_history.py", "lake.py", "lake_sql.py",
        "quality.py", "schemas.py", "settings.py", "helius_sync.py", "intraday.py"]  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in ([root] if root.is_file() else root.rglob("*.py")))


def test_no_production_module_imports_the_sandbox() -> None:
    production = [p for p in modules(PACKAGE) if "sandbox" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(production) > 50
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if "sandbox" in m)
        for p in production
        if p not in SANDBOX_WIRING
    }
    assert {p: m for p, m in offenders.items() if m} == {}


def test_the_computation_modules_do_not_import_dagster() -> None:
    pure = modules(*(PACKAGE / name for name in PURE))
    assert len(pure) > 20
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if "dagster" in m)
        for p in pure
    }
    assert {p: m for p, m in offenders.items() if m} == {}
