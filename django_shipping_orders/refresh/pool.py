"""The refresh engine's worker threads: a queue of one chunk, and each thread's database connection closed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from django.db import connections

from ..models import Order
from ..redaction import get_logger

logger = get_logger("django_shipping_orders.refresh")


class Pool:
    """Threads fed through a short queue; each closes its database connection when done."""

    def __init__(self, workers: int, work: Callable[[Order], None], *, backlog: int = 0) -> None:
        self._work = work
        # ``backlog``: how many orders may wait; a whole chunk lets the workers fetch the
        # next chunk while the claiming thread writes the last one.
        self._queue: queue.Queue[Order | None] = queue.Queue(maxsize=max(backlog, workers * 2))
        self._threads = [
            threading.Thread(target=self._loop, name=f"shipping-refresh-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, order: Order) -> None:
        self._queue.put(order)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _loop(self) -> None:
        try:
            while (order := self._queue.get()) is not None:
                try:
                    self._work(order)
                except Exception:  # the work records its own faults; this is a last guard
                    logger.exception("Refresh worker error on %s", order)
        finally:
            connections.close_all()
