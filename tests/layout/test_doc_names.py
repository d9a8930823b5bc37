"""Every import and dotted name of the package that README.md and docs/ show resolves today."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NAME = "django_shipping_orders"

# `from django_shipping_orders.x import a, b` on one line or `from ... import (a,\n b)`.
FROM_IMPORT = re.compile(
    rf"^\s*from\s+({NAME}(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n#]+)", re.MULTILINE
)
# `django_shipping_orders.x.y` anywhere in the text (prose, tables, settings strings).
DOTTED = re.compile(rf"\b{NAME}(?:\.\w+)+")


def _doc_texts() -> list[tuple[str, str]]:
    return [(path.relative_to(ROOT).as_posix(), path.read_text()) for path in DOCS]


def imports_in(text: str) -> list[tuple[str, str]]:
    """(module, name) for every name a `from django_shipping_orders... import` line imports."""
    found = []
    for module, names in FROM_IMPORT.findall(text):
        for name in names.strip("()").replace("\n", " ").split(","):
            name = name.split(" as ")[0].strip()
            if name:
                found.append((module, name))
    return found


def dotted_names_in(text: str) -> list[str]:
    return sorted(set(DOTTED.findall(text)))


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as error:
            if error.name is None or not ".".join(parts[:cut]).startswith(error.name):
                raise
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


IMPORTS = [
    pytest.param(module, name, id=f"{doc}:{module}.{name}")
    for doc, text in _doc_texts()
    for module, name in imports_in(text)
]
DOTTED_NAMES = [
    pytest.param(dotted, id=f"{doc}:{dotted}")
    for doc, text in _doc_texts()
    for dotted in dotted_names_in(text)
]


def test_the_docs_show_imports_and_dotted_names():
    # The scan finds what the docs hold: an empty list would make the checks below pass idly.
    assert len(IMPORTS) >= 10
    assert len(DOTTED_NAMES) >= 10


@pytest.mark.parametrize(("module", "name"), IMPORTS)
def test_a_documented_import_works(module, name):
    imported = importlib.import_module(module)
    if not hasattr(imported, name):
        importlib.import_module(f"{module}.{name}")


@pytest.mark.parametrize("dotted", DOTTED_NAMES)
def test_a_documented_dotted_name_resolves(dotted):
    resolve(dotted)


def test_the_scanner_reads_both_import_forms_and_a_moved_name_fails():
    text = (
        "from django_shipping_orders.labels import download_label, merge_labels\n"
        "from django_shipping_orders import (\n    services,\n    models as m,\n)\n"
    )
    assert imports_in(text) == [
        ("django_shipping_orders.labels", "download_label"),
        ("django_shipping_orders.labels", "merge_labels"),
        ("django_shipping_orders", "services"),
        ("django_shipping_orders", "models"),
    ]
    assert dotted_names_in("see `django_shipping_orders.labels.download_label`.") == [
        "django_shipping_orders.labels.download_label"
    ]
    with pytest.raises(AttributeError):
        resolve("django_shipping_orders.labels.download_label")
