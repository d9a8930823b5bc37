"""docs/architecture.md names every module of the package, and each imports what its row allows.

The module table is read from the document: each row names a module, its one
job and the parts of the package it may import. Its sections are floors, from
the ground up: a module imports nothing from a higher floor.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.layout.test_imports import NAME, _imports, _modules

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(?P<module>[\w.]+)` \| (?P<job>.+) \| (?P<allowed>.+) \|$")


def _table(text: str) -> dict[str, tuple[int, set[str]]]:
    """Each module of the table: its floor (section number) and the names its row allows."""
    rows: dict[str, tuple[int, set[str]]] = {}
    floor = -1
    for line in text.splitlines():
        if line.startswith("### "):
            floor += 1
        match = ROW.match(line)
        if match and floor >= 0:
            allowed = set(re.findall(r"`([\w.]+)`", match["allowed"]))
            rows[match["module"]] = (floor, allowed)
    return rows


def _part(module: str) -> str:
    """The name a row uses for ``module``: its first part below the package."""
    return module.removeprefix(NAME + ".").split(".")[0] if module != NAME else NAME


def _short(module: str) -> str:
    return module.removeprefix(NAME + ".") if module != NAME else NAME


TABLE = _table(DOC.read_text())
MODULES = _modules()


def test_the_table_names_every_module_once_and_nothing_else():
    assert sorted(TABLE) == sorted(_short(name) for name in MODULES)


@pytest.mark.parametrize("name", sorted(MODULES), ids=_short)
def test_the_module_imports_only_what_its_row_allows_and_nothing_from_above(name):
    floor, allowed = TABLE[_short(name)]
    # The row lists the imports that only name types too: they are dependencies to a reader.
    named = _imports(name, MODULES[name], MODULES, type_checking=True)
    assert sorted({_part(target) for target in named} - allowed) == []
    imported = _imports(name, MODULES[name], MODULES)
    above = [t for t in imported if TABLE[_short(t)][0] > floor]
    assert above == [], f"{_short(name)} imports from a higher floor: {above}"


def test_the_table_reader_reads_floors_and_allowed_names():
    text = "### a\n\n| `x` | one job | `conf`, `models` |\n### b\n| `y` | its job | — |\n"
    assert _table(text) == {"x": (0, {"conf", "models"}), "y": (1, set())}
