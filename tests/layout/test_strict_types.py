"""The strict mypy core in pyproject.toml names modules that exist, each with all it may grow."""

from __future__ import annotations

from pathlib import Path

import pytest

# Python 3.11+ reads TOML; the config is the same whatever Python runs the suite.
tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_shipping_orders"


def _strict_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    overrides = config["tool"]["mypy"]["overrides"]
    strict = [entry for entry in overrides if entry.get("disallow_untyped_defs")]
    assert len(strict) == 1
    return list(strict[0]["module"])


def test_each_strict_pattern_covers_a_module_and_any_package_it_becomes():
    patterns = _strict_patterns()
    assert len(patterns) >= 10
    for pattern in patterns:
        # `x.*` matches x itself and every module of x once x is a package; a bare `x`
        # would leave the modules of a future package x out of the strict core.
        assert pattern.endswith(".*"), pattern
        relative = Path(*pattern.removesuffix(".*").split(".")[1:])
        assert (PACKAGE / relative).with_suffix(".py").exists() or (
            PACKAGE / relative / "__init__.py"
        ).exists(), pattern
