"""Pieces the benchmark scripts share: a sample order and server subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: A small order in the provider's documented shape, placed by every bench.
BENCH_ORDER: dict[str, Any] = {
    "retailer_reference": "#BENCH",
    "receiver_name": "Bench Receiver",
    "delivery_address": "1 Bench Street",
    "delivery_suburb": "Sydney",
    "delivery_state": "NSW",
    "delivery_postcode": "2000",
    "parcel_attributes": [{"qty": 1, "weight": 1.0}],
    "product_attributes": [{"sku": "B1", "title": "Bench item", "quantity": 1, "price": 9.99}],
}


def start_server(args: list[str]) -> tuple[subprocess.Popen, str]:
    """Start ``python ARGS`` and read its URL from the first line it prints (``… listening on URL``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, line.split()[-1]


def stop_server(proc: subprocess.Popen) -> None:
    """Ctrl-C the server and wait for it (killed after 10 s)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
