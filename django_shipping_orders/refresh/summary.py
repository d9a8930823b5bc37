"""What a refresh run reports: the orders it fetched, changed, skipped, and the ones that failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RefreshFailure:
    """One order that could not be refreshed, and why."""

    order_id: int
    account: str
    reference: str
    error: str
    error_type: str


@dataclass
class RefreshSummary:
    """What a refresh run did (``changed + unchanged == fetched``)."""

    selected: int = 0
    fetched: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped_rate_limited: int = 0
    #: Selected orders that another worker holds a lease on right now.
    skipped_busy: int = 0
    #: Of the selected, orders not yet due, polled with the spare budget (refresh/spare.py).
    spare: int = 0
    #: Of those, the ones not polled: the window was already filled to ``SPARE_SHARE``.
    spare_held_back: int = 0
    failures: list[RefreshFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for task results and logs)."""
        return asdict(self)

    def __str__(self) -> str:
        text = (
            f"fetched {self.fetched} (changed {self.changed}, unchanged {self.unchanged}), "
            f"failed {self.failed}, skipped for rate limit {self.skipped_rate_limited}"
        )
        if self.skipped_busy:
            text += f", skipped (being refreshed elsewhere) {self.skipped_busy}"
        if self.spare:
            text += f"; {self.spare} of the selected were not due (spare budget)"
        if self.spare_held_back:
            text += f", {self.spare_held_back} of them left for the reserve"
        return text
