"""Dependencies point inward: the domain imports only the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The standard library modules the domain may use: none of them does I/O on its behalf.
ALLOWED_STDLIB = {
    "__future__",
    "collections",
    "contextlib",
    "dataclasses",
    "enum",
    "hashlib",
    "json",
    "logging",
    "re",
    "typing",
    "unicodedata",
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_imports_nothing_outward():
    found = {
        path.name: imported_roots(path) - ALLOWED_STDLIB - {"domain"}
        for path in sorted((ROOT / "domain").rglob("*.py"))
    }
    assert {name: roots for name, roots in found.items() if roots} == {}


def test_every_allowed_module_is_really_standard_library():
    assert ALLOWED_STDLIB.issubset(sys.stdlib_module_names)


def test_adapters_never_reach_into_entrypoints():
    modules = sorted((ROOT / "adapters").rglob("*.py"))
    assert len(modules) > 30  # every subpackage is looked at, not only the top folder
    reaching = [str(p.relative_to(ROOT)) for p in modules if "entrypoints" in imported_roots(p)]
    assert reaching == []
