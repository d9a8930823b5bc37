"""Model-based, in parallel: 8 callback threads and 4 refresh threads on one database.

``scenario.run`` draws the truth of many orders, delivers a shuffled stream
of webhooks (a share of them twice, at any delay) through the callback view
while other threads poll, then judges the mirror. PostgreSQL only: its row
locks are what the threads contend for (SQLite serialises all writers).
"""

from __future__ import annotations

import os

import pytest

from . import scenario

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs PostgreSQL: run with DATABASE_URL=postgres://…"
    ),
    pytest.mark.django_db(transaction=True),
]


def test_parallel_deliveries_and_polls_keep_every_promise(model_settings):
    figures = scenario.run(orders=120, steps=10, callback_threads=8, refresh_threads=4, seed=11)

    assert figures.out_of_order_deliveries > 100 and figures.repeated_deliveries > 50
    assert figures.applied > 0 and figures.polls > 0
    assert figures.problems == []
    assert (
        figures.duplicate_rows,
        figures.regressions,
        figures.older_than_delivered,
        figures.repeated_events,
        figures.lost_receipts,
        figures.wrong_final_states,
    ) == (0, 0, 0, 0, 0, 0)
