"""Order states the tests (and the callback benchmark) walk an order through."""

from __future__ import annotations

#: Shippit's states of a delivered order, first to last (the documented webhook's history).
SHIPPIT_HAPPY_PATH = [
    "order_placed",
    "despatch_in_progress",
    "ready_for_pickup",
    "in_transit",
    "with_driver",
    "completed",
]
