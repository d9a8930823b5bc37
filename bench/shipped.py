"""Matching a webhook's shipped items to an order's lines: indexed, beside pairwise matching.

A webhook's ``products`` is matched to the order's product lines while the
order's row is locked (``shipped.py``). This times the matching alone, in
memory, for orders of N lines and a webhook listing every item (in reverse
order, the worst case for a scan), with the app's indexed matcher and with
the pairwise matcher it replaced (each item compared with each line: the
baseline, run in the same process). Prints one JSON object per N:

    python bench/shipped.py [--sizes 100,250,500,1000]

``ratio`` is the pairwise time over the indexed time; the indexed time per
line stays flat as N grows, the pairwise one grows with N.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def configure() -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_shipping_orders",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    )
    django.setup()


def pairwise(rows: list[Any], items: list[dict[str, Any]]) -> list[Any]:
    """The replaced matcher: for each item, each key, scan every line (quadratic)."""

    def keys(values: Any) -> list[tuple[str, ...]]:
        get = values.get if isinstance(values, dict) else (lambda n: getattr(values, n, ""))
        line_id, sku, title = (str(get(n) or "") for n in ("product_line_id", "sku", "title"))
        found: list[tuple[str, ...]] = [("id", line_id)] if line_id else []
        if sku and title:
            found.append(("sku+title", sku, title))
        found.append(("sku", sku) if sku else ("title", title))
        return found

    taken: set[int] = set()
    matched = []
    for item in items:
        hit = None
        for key in keys(item):
            for index, row in enumerate(rows):
                if index not in taken and key in keys(row):
                    taken.add(index)
                    hit = row
                    break
            if hit is not None:
                break
        matched.append(hit)
    return matched


def indexed(rows: list[Any], items: list[dict[str, Any]]) -> list[Any]:
    """The app's matcher (``shipped._Lines``): exact keys first, then the loose ones."""
    from django_shipping_orders.shipped import _Lines

    lines = _Lines(rows)
    matched = [lines.exact(item) for item in items]
    return [hit or lines.loose(item) for hit, item in zip(matched, items, strict=True)]


def best_of(runs: int, match: Any, rows: list[Any], items: list[dict[str, Any]]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        match(rows, items)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,250,500,1000")
    args = parser.parse_args()
    configure()
    from django_shipping_orders.models import Product

    for size in (int(n) for n in args.sizes.split(",")):
        rows = [
            Product(position=i, title=f"Item {i}", sku=f"SKU{i}", quantity=2) for i in range(size)
        ]
        items = [{"title": f"Item {i}", "sku": f"SKU{i}", "quantity": 1} for i in range(size)][::-1]
        assert indexed(rows, items) == pairwise(rows, items)  # the same answer, in less time
        new = best_of(5, indexed, rows, items)
        old = best_of(1 if size > 500 else 3, pairwise, rows, items)
        print(
            json.dumps(
                {
                    "bench": "shipped_matching",
                    "lines": size,
                    "seconds": round(new, 5),
                    "baseline_seconds": round(old, 5),
                    "ratio": round(old / new, 1),
                    "us_per_line": round(new / size * 1e6, 2),
                    "baseline_us_per_line": round(old / size * 1e6, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
