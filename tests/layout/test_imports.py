"""The package's layout holds: no import cycle, old public paths still import, one job per file."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "django_shipping_orders"
NAME = "django_shipping_orders"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    }


def _imports(
    name: str, path: Path, modules: dict[str, Path], *, type_checking: bool = False
) -> set[str]:
    """Every module of the package that ``name`` imports, at the top or inside functions.

    With ``type_checking``, the imports under ``if TYPE_CHECKING:`` count too.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    # `if TYPE_CHECKING:` blocks never run: they name types, they import nothing.
    type_only = (
        set()
        if type_checking
        else {
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in ast.walk(node)
        }
    )
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            # `from pkg import sub` imports the module pkg.sub when there is one.
            targets = [
                f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in modules else base_name
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith(NAME) and target != name:
                found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_package_has_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "services",
            ["place_order", "cancel_order", "refresh_order", "get_label", "PERMANENT_ERRORS"],
        ),
        (
            "models",
            [
                *("Order", "Parcel", "Product", "OrderEvent", "CallbackReceipt", "Source"),
                *("Manifest", "LabelDocument", "OrderQuerySet", "CallbackReceiptQuerySet"),
                # Named by migrations/0001_initial.py.
                *("PayloadEncoder", "_label_storage", "_label_upload_to"),
            ],
        ),
        (
            "conf",
            [
                *("shipping_settings", "ShippingSettings", "AccountSettings", "RateLimit"),
                *("SETTING_NAME", "ACCOUNT_DEFAULTS", "GLOBAL_DEFAULTS", "BUILTIN_PROVIDERS"),
                *("build_account", "account_type_errors", "global_type_errors"),
            ],
        ),
        (
            "client",
            [
                *("ApiClient", "quote_reference", "DEFAULT_WAIT", "MAX_JSON_DEPTH"),
                *("MAX_RESPONSE_BYTES", "load_json", "bound_retry_after"),
            ],
        ),
        ("checks", ["check_settings", "is_backend", "SAFE_SHARED_ENTRIES"]),
        ("signals", ["order_synced", "order_state_changed", "label_stored"]),
        ("exceptions", ["ShippingOrdersError", "SubmissionOutcomeUnknown"]),
        ("documents", ["OrderDocument"]),
        ("providers", ["Provider", "get_provider"]),
        ("urls", ["urlpatterns"]),
        ("tasks", ["refresh_due_orders", "refresh_order", "process_pending_callbacks"]),
        ("callbacks", ["process_receipt", "process_pending"]),
        ("refresh", ["refresh_due", "refresh_orders"]),
        ("views", ["CallbackView", "label_view"]),
        ("admin", ["OrderAdmin"]),
    ],
)
def test_public_import_paths_keep_working(module, names):
    imported = importlib.import_module(f"{NAME}.{module}")
    for name in names:
        assert hasattr(imported, name), f"{NAME}.{module}.{name}"


def test_no_module_is_named_after_the_old_flat_admin_layout():
    assert not [path for path in PACKAGE.rglob("admin_*.py")]


def test_admin_prefixed_names_are_only_djangos_own():
    # The admin lives in admin/; an `admin_` name of our own would repeat that. Django's
    # ModelAdmin.admin_site and AdminSite.admin_view are the two names we cannot rename.
    names = {
        name
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
        for name in re.findall(r"\badmin_\w+", path.read_text())
    }
    assert names <= {"admin_site", "admin_view"}
