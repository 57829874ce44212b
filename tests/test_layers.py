"""Imports point downward only, as DESIGN.md draws the layers.

Every module of the package has a layer (its sub-package, or the rank given to a top-level module below);
an import of a higher layer, at module top or inside a function, fails this test. Imports under
``if TYPE_CHECKING:`` do not run and are allowed. A new top-level module must be given a rank here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "crossmargin"

#: Rank of each layer, lowest first (DESIGN.md's picture read bottom-up); equal ranks may import each other.
RANKS: dict[str, int] = {
    "errors": 0,
    "examples": 0,
    "numeric": 0,
    "paths": 0,
    "progress": 0,
    "model": 1,
    "venues": 2,
    "margin": 3,
    "portfolio": 3,
    "console": 3,
    "kernels": 4,
    "store": 5,
    "data": 6,
    "sim": 7,
    "risk": 8,
    "live": 9,
    "distributed": 9,
    "report": 10,
    "web": 11,
    "cli": 11,
    "__main__": 11,
}


def _layer(module: str) -> str | None:
    """Return the layer of ``crossmargin.X[.Y...]`` (X), or None for another package or the package itself."""
    parts = module.split(".")
    if parts[0] != "crossmargin" or len(parts) < 2:
        return None
    return parts[1]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if relative.parts == ("crossmargin", "__init__"):
            continue  # the package's public face re-exports from every layer
        found.append((".".join(relative.parts), path))
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return inside


def _imports(path: Path) -> list[tuple[int, str]]:
    """Return (line, imported module) of every import that runs (module top or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


MODULES = _modules()


def test_every_module_has_a_layer() -> None:
    unranked = sorted({name for name, _ in MODULES if _layer(name) not in RANKS})
    assert unranked == [], f"give these a rank in tests/test_layers.py: {unranked}"


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_imports_point_downward(name: str, path: Path) -> None:
    own = _layer(name)
    assert own is not None
    upward = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if (other := _layer(module)) is not None and other in RANKS and RANKS[other] > RANKS[own]
    ]
    assert upward == [], f"{name} ({own}) imports a higher layer: {upward}"


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    # the test itself must be able to fail: a margin module importing the risk lab is caught
    probe = tmp_path / "probe.py"
    probe.write_text("from crossmargin.risk.montecarlo import liquidation_probability\n", encoding="utf-8")
    assert _imports(probe) == [(1, "crossmargin.risk.montecarlo")]
    assert RANKS[_layer("crossmargin.risk.montecarlo") or ""] > RANKS["margin"]
    guarded = tmp_path / "guarded.py"
    guarded.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import crossmargin.web\n", encoding="utf-8"
    )
    assert _imports(guarded) == [(1, "typing")]
