"""The order's truth under hostile delivery: a shuffled stream of webhooks and polls, judged.

Runs ``tests/model/scenario.py``: the true lives of many orders in both
dialects (Shippit webhooks with their status history, Sender.lv's once-only
callback), every webhook delivered at any delay and a share of them twice,
shuffled, by 8 callback threads through the callback view while 4 refresh
threads poll the orders at random instants. Then the mirror is compared with
the truth. Prints one JSON object: the stream (deliveries, repeated, out of
order, polls), what was applied, and the counts that must be 0: duplicate
rows, regressions, states older than a truth delivered, repeated events,
lost receipts, wrong final states.

    python bench/ordering.py [--orders 300] [--steps 30] [--seed 1]

Uses the test settings and a throw-away database (SQLite by default,
``DATABASE_URL=postgres://…`` for PostgreSQL, where the threads contend for
row locks). There is no baseline: the behaviour before the order clock
cannot be run against this app any more; the counts it reached are in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

from tests.model import scenario  # noqa: E402
from tests.model.world import model_accounts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--steps", type=int, default=30, help="state changes per order, at most")
    parser.add_argument("--repeat-share", type=float, default=0.3)
    parser.add_argument("--polls-per-order", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # A database of our own: never the test database another run may be using.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = (
        str(Path(tempfile.gettempdir()) / f"bench-ordering-{os.getpid()}.sqlite3")
        if connection.vendor == "sqlite"
        else f"bench_shipping_orders_{os.getpid()}"
    )
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with (
            override_settings(SHIPPING_ORDERS=model_accounts()),
            mock.patch("django_q.tasks.async_task", lambda *a, **k: None),
        ):
            started = time.perf_counter()
            figures = scenario.run(
                orders=args.orders,
                steps=args.steps,
                repeat_share=args.repeat_share,
                polls_per_order=args.polls_per_order,
                callback_threads=8,
                refresh_threads=4,
                seed=args.seed,
            )
            seconds = time.perf_counter() - started
        result = {
            "bench": "ordering",
            "db": connection.vendor,
            "callback_threads": 8,
            "refresh_threads": 4,
            "seconds": round(seconds, 1),
            **figures.as_dict(),
        }
        print(json.dumps(result), flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    if figures.problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
