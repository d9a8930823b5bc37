"""Placing 200 orders on a ``startproject`` SQLite database while callbacks and a qcluster run.

Runs ``tests/integration/busy_shop.py``: the sandbox (real speed, quick
schedule) calls back into a ``runserver`` process, a ``qcluster`` with the
ORM broker runs the schedules, and another process places the orders in a
loop, all on one SQLite file with no options (no timeout, no IMMEDIATE).
Prints one JSON object: what the ``place_order`` calls did (orders returned,
typed errors by name, ``raw`` errors: must be none), the provider's orders,
the rows, how many provider orders do not have exactly one row (must be 0),
the receipts by status, and the placing time.

    python bench/placement.py [--orders 200]

There is no baseline: it is a correctness figure (with the figures of the
behaviour before in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration import busy_shop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="shipping-busy-shop-"))
    try:
        figures = busy_shop.run(args.orders, workdir, settle_seconds=120)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"bench": "placement", "db": "sqlite (startproject)", **figures}), flush=True)
    if figures["raw"] or figures["orders_without_exactly_one_row"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
