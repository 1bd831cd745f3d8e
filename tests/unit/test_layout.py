"""The tree shows the architecture: every name imported from where it is defined, no cycles."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "adapters", "entrypoints")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def defined_names(module: ast.Module) -> set[str]:
    """Names a module binds itself: functions, classes and assignments, at any top level."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def project_imports(module: ast.Module) -> Iterator[tuple[str, str]]:
    """(module, name) for every `from <project module> import name`."""
    for node in ast.walk(module):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        if node.module.split(".")[0] in PACKAGES:
            for alias in node.names:
                yield node.module, alias.name


def test_the_layout_has_one_subpackage_per_outside_thing_and_entry_point():
    packages = {p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*/__init__.py")}
    assert {
        "adapters/wechat_push",
        "adapters/wechat_api",
        "adapters/rules",
        "adapters/media",
        "adapters/state",
        "entrypoints/service",
        "entrypoints/cli",
        "entrypoints/demo",
        "entrypoints/sandbox",
    } <= packages


def test_no_module_exists_only_to_re_export():
    offenders = []
    for name, path in modules().items():
        module = tree(path)
        body = [n for n in module.body if not isinstance(n, ast.Expr)]  # docstrings
        imports_only = body and all(isinstance(n, ast.Import | ast.ImportFrom) for n in body)
        if imports_only or "__all__" in defined_names(module):
            offenders.append(name)
    assert offenders == []


def test_every_name_is_imported_from_the_module_that_defines_it():
    known = modules()
    borrowed = []
    for name, path in known.items():
        for source, imported in project_imports(tree(path)):
            if f"{source}.{imported}" in known:
                continue  # a module imported from its package
            if imported not in defined_names(tree(known[source])):
                borrowed.append(f"{name}: {imported} from {source}")
    assert borrowed == []


def test_there_is_no_import_cycle():
    known = modules()
    edges = {
        name: {src for src, _ in project_imports(tree(path)) if src in known}
        for name, path in known.items()
    }
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in edges[node]:
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*trail, nxt])
        done.add(node)

    done: set[str] = set()
    for start in known:
        if start not in done:
            visit(start, [start])
    assert cycles == []


def test_the_service_stands_apart_from_the_tools_in_entrypoints():
    # The tree shows the service's own files in one package, not among the commands' packages.
    top = sorted(p.name for p in (ROOT / "entrypoints").glob("*.py"))
    assert len(top) <= 8, top
    assert (ROOT / "entrypoints" / "service" / "container.py").is_file()
