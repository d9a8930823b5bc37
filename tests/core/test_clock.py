"""The order clock's rule, case by case (docs/callbacks.md states the same cases)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from django_shipping_orders.clock import judge

T = datetime(2026, 1, 5, 11, 0, tzinfo=timezone.utc)
WINDOW = timedelta(seconds=5)


@pytest.mark.parametrize(
    ("stored", "incoming", "seconds", "newer"),
    [
        # Newer by more than the window: newer, whatever the states.
        ("in_transit", "with_driver", 60, True),
        ("with_driver", "in_transit", 60, True),
        ("completed", "return_requested", 60, True),
        ("completed", "in_transit", 60, True),
        # Older by more than the window: older, whatever the states.
        ("in_transit", "completed", -60, False),
        ("with_driver", "in_transit", -60, False),
        ("in_transit", "in_transit", -60, False),
        # Within the window: the lifecycle decides.
        ("in_transit", "with_driver", -3, True),
        ("with_driver", "in_transit", 3, False),
        ("completed", "in_transit", 3, False),
        ("completed", "cancelled", 3, False),
        ("completed", "return_requested", 3, False),
        # Same rank, or a state of unknown rank: the later instant.
        ("ready_for_pickup", "pickup_failed", 2, True),
        ("ready_for_pickup", "pickup_failed", -2, False),
        ("in_transit", "held_by_aliens", 2, True),
        ("in_transit", "held_by_aliens", -2, False),
        # The same instant: applied (a duplicate changes nothing).
        ("in_transit", "in_transit", 0, True),
        # No state in the document: the instant alone.
        ("in_transit", "", 2, True),
        ("in_transit", "", -2, False),
    ],
)
def test_the_rule(stored, incoming, seconds, newer):
    verdict = judge(stored, T, incoming, T + timedelta(seconds=seconds), WINDOW)
    assert verdict.newer is newer, verdict.reason
    assert verdict.reason


def test_nothing_stored_yet_means_newer():
    assert judge("", None, "in_transit", T, WINDOW).newer


def test_a_zero_window_leaves_the_instant_alone_to_decide():
    assert not judge("in_transit", T, "with_driver", T - timedelta(microseconds=1), timedelta(0))
    assert judge("with_driver", T, "in_transit", T + timedelta(microseconds=1), timedelta(0))
