"""The providers' order states: where each sits on the lifecycle, whether it is final,
whether it needs a person, and what to call it.

States are stored exactly as the provider sends them (unknown ones included);
this table only tells the sync, the refresh policy and the admin how to read
them. Shippit's webhook schema lists 27 ``current_state`` values; Get Order
and ``status_history`` add ``order_placed`` and ``despatch_in_progress``;
Sender.lv adds ``accepted``. See docs/providers.md for what each means to a
shop.

The small API the rest of the app uses: :func:`rank`, :func:`is_final`,
:func:`needs_attention`, :func:`label`, :func:`phase`, :func:`is_known`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    """What the app knows about one state."""

    name: str
    #: Position on the lifecycle. Side states share the rank of the step they
    #: branch from, so a provider moving an order back from a side state
    #: (pickup_failed -> ready_for_pickup) is not mistaken for a regression.
    rank: int
    #: Nothing more is expected to happen: polling stops. (A final state may
    #: still be followed by a return flow; the provider's newer word wins.)
    final: bool
    #: Someone at the shop has to act (call the courier or the receiver,
    #: pay duties, decide about a return).
    needs_person: bool
    #: What people read in the admin.
    label: str
    #: processing, placed, ready, moving, delivered, stopped, exception, return.
    phase: str
    #: What it means for the shop (docs/providers.md prints this).
    meaning: str
    #: Listed as a ``current_state`` by Shippit's webhook schema.
    webhook: bool = True


def _s(
    name: str,
    rank: int,
    label: str,
    phase: str,
    meaning: str,
    *,
    final: bool = False,
    person: bool = False,
    webhook: bool = True,
) -> State:
    return State(name, rank, final, person, label, phase, meaning, webhook)


#: Every known state, in lifecycle order.
STATES: dict[str, State] = {
    s.name: s
    for s in (
        _s("processing", 0, "Processing", "processing", "The provider is processing the order; no courier or label yet."),
        _s("order_placed", 10, "Order placed", "placed", "Processed and accepted; a courier is allocated and the label can be printed.", webhook=False),
        _s("accepted", 10, "Accepted", "placed", "Sender.lv: processed and accepted (ranks with order_placed).", webhook=False),
        _s("despatch_in_progress", 20, "Despatch in progress", "placed", "The shop is packing the order.", webhook=False),
        _s("ready_for_pickup", 30, "Ready for pickup", "ready", "Labelled and waiting for the courier to collect it."),
        _s("awaiting_drop_off", 30, "Awaiting drop-off", "ready", "Labelled; the shop takes the parcel to the courier's drop-off point."),
        _s("pickup_failed", 30, "Pickup failed", "exception", "The courier did not collect the parcel: book the pickup again or call the courier.", person=True),
        _s("in_transit", 40, "In transit", "moving", "The courier has the parcel and it is on its way."),
        _s("with_customs", 45, "With customs", "moving", "The parcel is being cleared by customs."),
        _s("customs_on_hold", 45, "Held by customs", "exception", "Customs holds the parcel: documents or information are missing.", person=True),
        _s("customs_awaiting_paym", 45, "Customs: awaiting payment", "exception", "Customs waits for duties or taxes to be paid.", person=True),
        _s("customs_failed", 45, "Customs clearance failed", "exception", "Customs refused the parcel.", person=True),
        _s("insufficient_address", 45, "Insufficient address", "exception", "The courier cannot deliver to the address as given: correct it with the courier.", person=True),
        _s("with_driver", 50, "With driver", "moving", "Out for delivery today."),
        _s("delivery_attempted", 50, "Delivery attempted", "moving", "Nobody could receive the parcel; the courier tries again or leaves a card."),
        _s("delivery_failed", 50, "Delivery failed", "exception", "The courier gave up delivering: contact the receiver and the courier.", person=True),
        _s("awaiting_collection", 60, "Awaiting collection", "moving", "The parcel waits at a collection point (post office, locker) for the receiver."),
        _s("await_collection", 60, "Awaiting collection", "moving", "Same as awaiting_collection (the schema lists both spellings)."),
        _s("parcel_completed", 90, "Parcel delivered", "moving", "One parcel of a multi-parcel order was delivered; others are still on the way."),
        _s("partially_completed", 90, "Partially delivered", "moving", "Some parcels of the order were delivered, not all."),
        _s("completed", 100, "Delivered", "delivered", "Delivered to the receiver.", final=True),
        _s("cancelled", 100, "Cancelled", "stopped", "Cancelled by the shop, or refused by the provider while processing.", final=True),
        _s("invalidated", 100, "Invalidated", "stopped", "The provider invalidated the order; it will not ship.", final=True),
        _s("untrackable", 100, "Untrackable", "stopped", "The courier gives no tracking for this parcel; no updates will come.", final=True),
        _s("lost", 100, "Lost", "exception", "The courier lost the parcel: claim with the courier, re-send or refund.", final=True, person=True),
        _s("damaged", 100, "Damaged", "exception", "The parcel was damaged in transit: claim with the courier, re-send or refund.", final=True, person=True),
        _s("return_requested", 110, "Return requested", "return", "A return of the parcel was requested: decide and book it.", person=True),
        _s("return_booked", 120, "Return booked", "return", "The return is booked with a courier; expect the parcel back.", person=True),
        _s("return_booking_failed", 120, "Return booking failed", "return", "Booking the return failed: book it again or arrange it with the courier.", person=True),
        _s("returned_to_sender", 130, "Returned to sender", "return", "The parcel came back to the shop: re-send or refund.", final=True, person=True),
    )
}  # fmt: skip

#: The 27 states Shippit's webhook schema lists as ``current_state``.
WEBHOOK_STATES: frozenset[str] = frozenset(s.name for s in STATES.values() if s.webhook)

#: States after which nothing more is expected: polling stops.
FINAL_STATES: frozenset[str] = frozenset(s.name for s in STATES.values() if s.final)
#: Kept for code written against the first release.
TERMINAL_STATES = FINAL_STATES

#: States in which someone at the shop has to act.
ATTENTION_STATES: frozenset[str] = frozenset(s.name for s in STATES.values() if s.needs_person)

#: States in which the provider is still processing the order (no label yet).
PROCESSING_STATES: frozenset[str] = frozenset({"", "processing"})

#: States in which the parcel is with a courier and not yet delivered or stopped.
MOVING_STATES: frozenset[str] = frozenset(
    s.name for s in STATES.values() if 40 <= s.rank < 100 or (s.rank > 100 and not s.final)
)

#: Moving states close to the receiver: delivery (or collection) is near.
NEAR_DELIVERY_STATES: frozenset[str] = frozenset(
    s.name for s in STATES.values() if 50 <= s.rank < 100
)

#: Known states past processing in which the parcel waits for the courier (placed, ready,
#: a failed pickup): the next thing expected is the pickup.
LABELLED_STATES: frozenset[str] = frozenset(
    name
    for name, s in STATES.items()
    if name not in PROCESSING_STATES | MOVING_STATES | NEAR_DELIVERY_STATES and not s.final
)


def canonical_state(state: str, state_map: Mapping[str, str] | None = None) -> str:
    """The known state that ``state`` stands for (through an account's ``STATE_MAP``)."""
    state = (state or "").strip().lower()
    if state_map and state in state_map:
        return state_map[state]
    return state


def get(state: str, state_map: Mapping[str, str] | None = None) -> State | None:
    """What the app knows about ``state``, or ``None`` for a state it does not know."""
    return STATES.get(canonical_state(state, state_map))


def is_known(state: str, state_map: Mapping[str, str] | None = None) -> bool:
    return get(state, state_map) is not None


def rank(state: str, state_map: Mapping[str, str] | None = None) -> int | None:
    """Rank of ``state`` on the lifecycle, or ``None`` for a state we do not know."""
    known = get(state, state_map)
    return known.rank if known else None


def is_final(state: str, state_map: Mapping[str, str] | None = None) -> bool:
    """True once nothing more will happen to the order (polling stops)."""
    known = get(state, state_map)
    return bool(known and known.final)


def needs_attention(state: str, state_map: Mapping[str, str] | None = None) -> bool:
    """True when someone at the shop has to act on an order in ``state``."""
    known = get(state, state_map)
    return bool(known and known.needs_person)


def phase(state: str, state_map: Mapping[str, str] | None = None) -> str:
    """Where ``state`` is on the lifecycle, for badges; ``"unknown"`` for a state we do not know."""
    known = get(state, state_map)
    return known.phase if known else "unknown"


def label(state: str, state_map: Mapping[str, str] | None = None) -> str:
    """The state as people read it; an unknown one says so and keeps its own words."""
    known = get(state, state_map)
    if known:
        return known.label
    if not (state or "").strip():
        return "Unknown"
    return f"{state.strip().replace('_', ' ').capitalize()} (unknown state)"


# The names of the first release, used by code and benchmarks written against it.
state_rank = rank
is_terminal = is_final
STATE_RANK: dict[str, int] = {name: s.rank for name, s in STATES.items()}
