"""Every module of the package opens with a docstring saying its job and stays within 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "django_shipping_orders"
#: A module past this many lines is probably two modules (STYLE.md).
MAX_LINES = 400


def _modules() -> list[Path]:
    """Every ``.py`` file of the package, the sandbox included; migrations are generated."""
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.relative_to(PACKAGE).parts and "__pycache__" not in path.parts
    )


MODULES = _modules()
IDS = [str(path.relative_to(PACKAGE)) for path in MODULES]


def test_the_walk_finds_the_package_the_sandbox_and_no_migration():
    assert {"__init__.py", "conf/__init__.py", "sandbox/server.py"} <= set(IDS)
    assert not [name for name in IDS if name.startswith("migrations/")]


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_the_module_opens_with_a_docstring(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(), str(path)))
    assert docstring and docstring.strip(), f"{path.relative_to(PACKAGE)} has no module docstring"


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_the_module_is_at_most_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"
