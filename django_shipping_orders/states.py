"""What the providers' order states mean: their order on the happy path, and which are final.

States are stored exactly as the provider sends them (unknown ones included);
this table only tells the sync and the refresh policy how to read them.
"""

from __future__ import annotations

from collections.abc import Mapping

# Rank on the happy path. Side states share the rank of the step they branch
# from, so a provider moving an order back from a side state (pickup_failed ->
# ready_for_pickup) is not mistaken for a regression.
STATE_RANK: dict[str, int] = {
    "processing": 0,
    "order_placed": 10,
    "accepted": 10,  # Sender.lv: processed and accepted
    "despatch_in_progress": 20,
    "ready_for_pickup": 30,
    "pickup_failed": 30,
    "awaiting_collection": 30,
    "in_transit": 40,
    "with_customs": 45,
    "insufficient_address": 45,
    "with_driver": 50,
    "delivery_attempted": 50,
    "completed": 100,
    "cancelled": 100,
    "untrackable": 100,
    "invalidated": 100,
}

TERMINAL_STATES: frozenset[str] = frozenset(
    {"completed", "cancelled", "untrackable", "invalidated"}
)

#: States in which the provider is still processing the order (no label yet).
PROCESSING_STATES: frozenset[str] = frozenset({"", "processing"})

#: States in which a courier is on the way to the receiver.
MOVING_STATES: frozenset[str] = frozenset({"in_transit", "with_customs", "with_driver"})


def canonical_state(state: str, state_map: Mapping[str, str] | None = None) -> str:
    """The known state that ``state`` stands for (through an account's ``STATE_MAP``)."""
    state = (state or "").strip().lower()
    if state_map and state in state_map:
        return state_map[state]
    return state


def state_rank(state: str, state_map: Mapping[str, str] | None = None) -> int | None:
    """Rank of ``state`` on the happy path, or ``None`` for a state we do not know."""
    return STATE_RANK.get(canonical_state(state, state_map))


def is_terminal(state: str, state_map: Mapping[str, str] | None = None) -> bool:
    """True once nothing more will happen to the order."""
    return canonical_state(state, state_map) in TERMINAL_STATES
