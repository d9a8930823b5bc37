"""Placing orders on a ``startproject`` SQLite database while callbacks and a qcluster run.

Every ``place_order`` call returns an order or raises a typed shipping error
(never a raw ``OperationalError``), and each order the provider created has
exactly one row. ``bench/placement.py`` runs the same with 200 orders.
"""

from __future__ import annotations

import pytest

from . import busy_shop

pytestmark = pytest.mark.integration


def test_placing_orders_in_a_busy_shop_on_default_sqlite(tmp_path):
    figures = busy_shop.run(40, tmp_path)

    assert figures["raw"] == [] and "raw" not in figures["outcomes"], figures
    assert sum(figures["outcomes"].values()) == 40
    assert figures["outcomes"].get("order", 0) > 0, figures
    assert figures["provider_orders"] == 40 - figures["outcomes"].get("OrderNotSent", 0)
    assert figures["orders_without_exactly_one_row"] == 0, figures
    assert set(figures["receipts"]) <= {"processed", "ignored"}, figures
