"""The simulated world behind the sandbox: accounts, and orders whose state
follows from the simulated clock.

Nothing here ticks. Each order draws its whole future when it is placed (how
long processing takes, whether it ends cancelled, the courier, the pickup
time), and its state is read from that timeline at the current simulated time.
That keeps reads cheap, makes ``advance()`` instant, and makes a seeded run
repeatable whatever the thread timing.
"""

from __future__ import annotations

import heapq
import itertools
import random
import string
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from ..states import WEBHOOK_STATES
from .simulated_time import Clock

DIALECTS = ("shippit", "senderlv")

#: (courier name, consignment number prefix, digits) per dialect.
COURIERS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "shippit": (
        ("CouriersPlease", "CPAVZUZ", 7),
        ("Aramex", "ARX", 9),
        ("StarTrack", "STK", 8),
        ("Australia Post", "APX", 9),
    ),
    "senderlv": (
        ("Omniva", "OMV", 9),
        ("DPD", "DPD", 10),
        ("Venipak", "VNP", 9),
    ),
}

_ALNUM = string.ascii_letters + string.digits


@dataclass
class Schedule:
    """When an accepted order moves on, in simulated seconds."""

    processing_min: float = 1.0
    processing_max: float = 20 * 60.0
    despatch_after: float = 60.0  # after processing ends (Shippit's despatch_in_progress)
    ready_after: float = 3600.0  # after processing ends
    pickup_after: float = 3 * 3600.0  # after processing ends: pickup_at, in_transit
    with_driver_after: float = 24 * 3600.0  # after pickup
    completed_after: float = 4 * 3600.0  # after with_driver

    def __post_init__(self) -> None:
        if not 0 <= self.processing_min <= self.processing_max:
            raise ValueError("need 0 <= processing_min <= processing_max")
        if not 0 <= self.despatch_after <= self.ready_after <= self.pickup_after:
            raise ValueError("need despatch_after <= ready_after <= pickup_after")
        if self.with_driver_after < 0 or self.completed_after < 0:
            raise ValueError("delays must be >= 0")


@dataclass
class SandboxAccount:
    """A merchant account: its key, which dialect it speaks, where callbacks go."""

    api_key: str
    dialect: str = "shippit"
    callback_url: str | None = None
    secret_header: str | None = None
    secret: str | None = None
    rate_limit: int | None = None  # overrides Faults.rate_limit for this key

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("api_key is required")
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}")
        if self.secret and not self.secret_header:
            raise ValueError("a secret needs a secret_header to travel in")

    def to_dict(self, include_secret: bool = False) -> dict[str, Any]:
        """The account as JSON; the secret only when asked (state files)."""
        data = asdict(self)
        if not include_secret:
            data["secret"] = "********" if self.secret else None
        return data


@dataclass
class SandboxOrder:
    """One placed order and its whole drawn future."""

    ref: str
    dialect: str
    api_key: str
    fields: dict[str, Any]
    placed_at: float
    processed_at: float
    accepted: bool
    courier: str
    courier_job_id: str
    label_numbers: list[str]
    pickup_at: float | None
    timeline: list[tuple[str, float]]
    booked_at: float | None = None
    calls: dict[str, int] = field(default_factory=dict)
    #: The charge for the shipment, as Shippit writes it ("15.95").
    price: str = "0.00"
    #: The provider's numeric id of the order (Shippit answers carry one).
    order_id: int = 0

    def state_at(self, t: float) -> str:
        """The state at simulated time ``t``."""
        for state, when in reversed(self.timeline):
            if when <= t:
                return state
        return self.timeline[0][0]

    def history_at(self, t: float) -> list[tuple[str, float]]:
        """State changes up to ``t``, oldest first."""
        return [(s, w) for s, w in self.timeline if w <= t]

    @property
    def allocated_at(self) -> float | None:
        """When the courier, label and consignment number appear (None: never)."""
        if len(self.timeline) > 1 and self.timeline[1][0] in ("order_placed", "accepted"):
            return self.timeline[1][1]
        return None

    def allocated(self, t: float) -> bool:
        """Whether the label and courier are known at ``t``."""
        at = self.allocated_at
        return at is not None and t >= at

    def planned(self, state: str) -> float | None:
        """When ``state`` is (or was) due on the timeline."""
        for s, w in self.timeline:
            if s == state:
                return w
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for state files."""
        data = asdict(self)
        data["timeline"] = [list(e) for e in self.timeline]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxOrder:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["timeline"] = [(str(s), float(w)) for s, w in data["timeline"]]
        return cls(**data)


@dataclass
class SandboxManifest:
    """A pickup booking: the orders of one courier handed over together."""

    manifest_id: str
    api_key: str
    refs: list[str]
    booked_at: float
    courier: str = ""


@dataclass(frozen=True)
class DueEvent:
    """A state change whose time has come, for the callback dispatcher."""

    order: SandboxOrder
    state: str
    at: float


class World:
    """Accounts, orders and manifests, guarded by one lock.

    Callers hold ``lock`` while reading an order they are about to render, so
    a concurrent cancel or booking never shows half applied.
    """

    def __init__(
        self,
        clock: Clock,
        seed: int | None = None,
        cancel_share: float = 0.1,
        schedule: Schedule | None = None,
    ) -> None:
        if not 0 <= cancel_share <= 1:
            raise ValueError("cancel_share must be between 0 and 1")
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.cancel_share = cancel_share
        self.schedule = schedule or Schedule()
        self.accounts: dict[str, SandboxAccount] = {}
        self.orders: dict[str, SandboxOrder] = {}
        self.manifests: dict[str, SandboxManifest] = {}
        self._events: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()

    # -- accounts ---------------------------------------------------------

    def add_account(self, account: SandboxAccount) -> SandboxAccount:
        """Register (or replace) an account."""
        with self.lock:
            self.accounts[account.api_key] = account
        return account

    # -- orders -----------------------------------------------------------

    def _new_ref(self, dialect: str) -> str:
        while True:
            if dialect == "shippit":
                ref = "PP" + "".join(self.rng.choice(_ALNUM) for _ in range(11))
            else:
                ref = "SLV" + str(self.rng.randrange(10**8, 10**9))
            if ref not in self.orders:
                return ref

    def place(self, account: SandboxAccount, fields: dict[str, Any]) -> SandboxOrder:
        """Create an order and draw its future from the seeded random source."""
        sched = self.schedule
        with self.lock:
            now = self.clock.now()
            rng = self.rng
            ref = self._new_ref(account.dialect)
            processed = now + rng.uniform(sched.processing_min, sched.processing_max)
            cancelled = rng.random() < self.cancel_share
            courier, prefix, digits = rng.choice(COURIERS[account.dialect])
            job_id = prefix + str(rng.randrange(10 ** (digits - 1), 10**digits))
            n_parcels = max(1, len(fields.get("parcel_attributes") or []))
            labels = [f"{job_id}{i:03d}" for i in range(1, n_parcels + 1)]
            timeline: list[tuple[str, float]] = [("processing", now)]
            pickup_at = None
            if cancelled:
                timeline.append(("cancelled", processed))
            else:
                pickup_at = processed + sched.pickup_after
                with_driver = pickup_at + sched.with_driver_after
                if account.dialect == "shippit":
                    timeline.append(("order_placed", processed))
                    timeline.append(("despatch_in_progress", processed + sched.despatch_after))
                else:
                    timeline.append(("accepted", processed))
                timeline += [
                    ("ready_for_pickup", processed + sched.ready_after),
                    ("in_transit", pickup_at),
                    ("with_driver", with_driver),
                    ("completed", with_driver + sched.completed_after),
                ]
            order = SandboxOrder(
                price=_price(fields),
                order_id=len(self.orders) + 1,
                ref=ref,
                dialect=account.dialect,
                api_key=account.api_key,
                fields=fields,
                placed_at=now,
                processed_at=processed,
                accepted=not cancelled,
                courier=courier,
                courier_job_id=job_id,
                label_numbers=labels,
                pickup_at=pickup_at,
                timeline=timeline,
            )
            self.orders[ref] = order
            self._schedule_events(order, timeline[1:])
            return order

    def _schedule_events(self, order: SandboxOrder, entries: list[tuple[str, float]]) -> None:
        """Queue callback events: every change to a state Shippit's webhook schema lists
        (not order_placed or despatch_in_progress), and only the end of processing for
        Sender.lv (its callback is sent once and never repeated)."""
        for state, when in entries:
            if order.dialect == "senderlv" and (state, when) != order.timeline[1]:
                continue
            if order.dialect == "shippit" and state not in WEBHOOK_STATES:
                continue
            heapq.heappush(self._events, (when, next(self._seq), order.ref, state))

    def find(self, ref: str, api_key: str) -> SandboxOrder | None:
        """The order ``ref`` if it belongs to ``api_key`` (other merchants' orders are 404)."""
        order = self.orders.get(ref)
        if order is None or order.api_key != api_key:
            return None
        return order

    def cancel(self, order: SandboxOrder, now: float) -> None:
        """Cut the timeline at ``now`` and end it cancelled."""
        with self.lock:
            kept = [e for e in order.timeline if e[1] <= now]
            order.timeline = [*kept, ("cancelled", now)]
            if len(order.timeline) == 2:
                order.processed_at = now
            self._schedule_events(order, order.timeline[-1:])

    def book(self, api_key: str, orders: list[SandboxOrder], now: float) -> SandboxManifest:
        """Book labelled orders of one courier for pickup: they become ready_for_pickup now."""
        with self.lock:
            manifest_id = "MF" + str(self.rng.randrange(10**9, 10**10))
            for order in orders:
                order.booked_at = now
                changed = []
                for i, (state, when) in enumerate(order.timeline):
                    if state in ("despatch_in_progress", "ready_for_pickup") and when > now:
                        order.timeline[i] = (state, now)
                        changed.append(order.timeline[i])
                self._schedule_events(order, changed)
            courier = orders[0].courier if orders else ""
            manifest = SandboxManifest(manifest_id, api_key, [o.ref for o in orders], now, courier)
            self.manifests[manifest_id] = manifest
            return manifest

    def pop_due(self, now: float) -> list[DueEvent]:
        """State changes due by ``now`` not yet handed out, oldest first."""
        due: list[DueEvent] = []
        with self.lock:
            while self._events and self._events[0][0] <= now:
                when, _, ref, state = heapq.heappop(self._events)
                order = self.orders.get(ref)
                # Entries moved by a booking or cut by a cancel are stale: skip them.
                if order is not None and (state, when) in order.timeline:
                    due.append(DueEvent(order, state, when))
        return due

    def has_due(self, now: float) -> bool:
        """Whether state changes are waiting to be handed out."""
        with self.lock:
            return bool(self._events) and self._events[0][0] <= now

    def next_processing_end(self, now: float) -> float | None:
        """The latest end of processing still in the future (None: nothing pending)."""
        with self.lock:
            pending = [o.processed_at for o in self.orders.values() if o.processed_at > now]
        return max(pending) if pending else None

    # -- persistence ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to resume later, as JSON-ready data."""
        with self.lock:
            version, internal, gauss = self.rng.getstate()
            return {
                "sim_time": self.clock.now(),
                "cancel_share": self.cancel_share,
                "schedule": asdict(self.schedule),
                "rng": [version, list(internal), gauss],
                "accounts": [a.to_dict(include_secret=True) for a in self.accounts.values()],
                "orders": [o.to_dict() for o in self.orders.values()],
                "manifests": [asdict(m) for m in self.manifests.values()],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Restore :meth:`to_dict` output (the caller starts the clock at ``sim_time``)."""
        with self.lock:
            sim_time = float(data["sim_time"])
            self.cancel_share = float(data.get("cancel_share", self.cancel_share))
            if "schedule" in data:
                self.schedule = Schedule(**data["schedule"])
            if data.get("rng"):
                version, internal, gauss = data["rng"]
                self.rng.setstate((version, tuple(internal), gauss))
            for raw in data.get("accounts", []):
                self.add_account(SandboxAccount(**raw))
            for raw in data.get("orders", []):
                order = SandboxOrder.from_dict(raw)
                self.orders[order.ref] = order
                self._schedule_events(order, [e for e in order.timeline[1:] if e[1] > sim_time])
            for raw in data.get("manifests", []):
                self.manifests[raw["manifest_id"]] = SandboxManifest(**raw)


def _price(fields: dict[str, Any]) -> str:
    """What the sandbox charges: a base fee and a rate per kilogram, to the cent."""
    weight = 0.0
    for parcel in fields.get("parcel_attributes") or []:
        try:
            weight += float(parcel.get("weight") or 0) * int(parcel.get("qty") or 1)
        except (TypeError, ValueError):
            continue
    return f"{8.95 + 1.10 * weight:.2f}"
