"""Every module says what it exports: ``__all__`` lists each public function, class and constant it defines,
and names only what exists.

Read from the source (no import), so the check costs nothing and loads no heavy library. A module without
``__all__`` must define nothing public (a package ``__init__`` with only a docstring, ``__main__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "crossmargin"
#: Alembic's migration scripts follow Alembic's module protocol (revision, upgrade, downgrade), not ours.
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _public_definitions(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def _lazy_names(tree: ast.Module) -> set[str]:
    """Return the names a module-level ``__getattr__`` (PEP 562) compares its argument with (``name == "app"``)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Compare):
                    names.update(
                        c.value for c in sub.comparators if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
    return names


def _bound_names(tree: ast.Module) -> set[str]:
    bound = _public_definitions(tree) | _lazy_names(tree)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.If):  # TYPE_CHECKING imports and guarded definitions
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    bound.update((alias.asname or alias.name).split(".")[0] for alias in sub.names)
    return bound


def _declared(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets: list[ast.expr]
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert isinstance(value, (ast.List, ast.Tuple)), "__all__ must be a literal list"
            return [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return None


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_all_lists_what_the_module_defines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    declared = _declared(tree)
    public = _public_definitions(tree)
    if declared is None:
        assert public == set(), f"{path.name}: public names without __all__: {sorted(public)}"
        return
    assert len(declared) == len(set(declared)), f"{path.name}: __all__ repeats a name"
    missing = sorted(public - set(declared))
    assert missing == [], f"{path.name}: public but not in __all__: {missing}"
    unknown = sorted(set(declared) - _bound_names(tree))
    assert unknown == [], f"{path.name}: __all__ names what the module does not bind: {unknown}"
