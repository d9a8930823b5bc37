"""What every store of rate budgets answers to, and the names of the entries in their logs."""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Decision:
    """What the log said: admitted, or how long until a slot is likely to free."""

    admitted: bool
    wait: float = 0.0


class Store(Protocol):
    """Where the logs live; every method is atomic across the processes sharing it."""

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        """Add ``token`` to the log if it holds fewer than ``limit`` live entries."""

    def finish(self, key: str, token: str, late: float = 0.0) -> None:
        """The request of ``token`` ended: it counts for one window from now.

        ``late`` > 0 (a request that timed out, which may still reach the
        provider): it counts ``late`` seconds more.
        """

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        """Live entries, whether the key is paused, whether it runs at half its limit."""

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        """Pause the key for ``pause`` seconds and halve its limit for ``slow_for``."""

    def reset(self, key: str) -> None:
        """Forget the log and the penalties of the key."""


_tokens = itertools.count()
_SALT = uuid.uuid4().hex[:8]


def new_token() -> str:
    """A name for one request's entry, unique across threads and processes.

    The process id is read each time: workers forked after this module was
    imported share its counter and salt, never their pid.
    """
    return f"{os.getpid()}-{_SALT}-{next(_tokens)}"
