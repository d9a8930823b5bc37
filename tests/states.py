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

#: The states of SHIPPIT_HAPPY_PATH that Shippit's webhook schema lists: the ones a
#: webhook is sent for (order_placed and despatch_in_progress appear only in
#: status_history and Get Order).
SHIPPIT_WEBHOOK_PATH = [
    s for s in SHIPPIT_HAPPY_PATH if s not in ("order_placed", "despatch_in_progress")
]
