"""The order clock: whether a document about an order is newer than what is stored.

Every document carries the instant its content was known true (its *as-of*,
see ``OrderDocument.pushed`` and ``OrderDocument.fetched``); the order keeps
the as-of of its stored state (``Order.state_as_of``) and of its other
mirrored fields (``Order.data_as_of``). :func:`judge` compares the two and
``sync.apply_document`` applies what it says, so the rule lives here alone:

1. Nothing stored yet: the document is newer.
2. Newer by more than the window (``CLOCK_WINDOW``): newer, whatever the
   states; even a final state is left (a return after ``completed`` is real).
3. Older by more than the window: older, whatever the states. A document at
   or before what is stored changes nothing and fires nothing.
4. Within the window the two instants are a tie: the clocks of the provider
   and ours may disagree by that much. The lifecycle decides:

   a. a final state is kept (it is left only for a strictly newer document);
   b. else the state of higher rank is the newer one;
   c. same rank, or a state whose rank is not known: the later instant wins;
      at the very same instant the document is applied (a duplicate, which
      changes nothing).

docs/callbacks.md states the same rule with its cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import states


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` found: is the document newer, and why."""

    newer: bool
    reason: str

    def __bool__(self) -> bool:
        return self.newer


def judge(
    stored_state: str,
    stored_as_of: datetime | None,
    incoming_state: str,
    as_of: datetime,
    window: timedelta,
) -> Verdict:
    """Whether a document known true at ``as_of`` (with ``incoming_state``, maybe "") is newer.

    ``stored_state`` / ``stored_as_of`` are what the order holds; see the
    module docstring for the rule.
    """
    if stored_as_of is None:
        return Verdict(True, "nothing stored before")
    delta = as_of - stored_as_of
    if delta > window:
        return Verdict(True, f"known true at {_at(as_of)}, after {_at(stored_as_of)}")
    if delta < -window:
        return Verdict(False, f"known true at {_at(as_of)}, before {_at(stored_as_of)}")
    tie = f"known true at {_at(as_of)}, within {window.total_seconds():g} s of {_at(stored_as_of)}"
    if incoming_state and incoming_state != stored_state:
        if states.is_terminal(stored_state):
            return Verdict(False, f"{tie}: the final state {stored_state!r} is kept")
        old_rank, new_rank = states.state_rank(stored_state), states.state_rank(incoming_state)
        if old_rank is not None and new_rank is not None and old_rank != new_rank:
            if new_rank > old_rank:
                return Verdict(True, f"{tie}: {incoming_state!r} comes after {stored_state!r}")
            return Verdict(False, f"{tie}: {incoming_state!r} comes before {stored_state!r}")
    if delta >= timedelta(0):
        return Verdict(True, f"{tie}, and not earlier")
    return Verdict(False, f"{tie}, and earlier")


def _at(instant: datetime) -> str:
    return instant.isoformat(timespec="microseconds")
