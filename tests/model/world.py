"""A simulated provider that knows the true life of every order, and a judge of the mirror.

Shared by the model-based tests and ``bench/ordering.py``. The provider's
truth is a list of versions per order (an instant and a state); it answers
Get Order with the version true at the instant of the request, pushes a
Shippit webhook (with its ``status_history``) for every version, and a
Sender.lv callback once, when the order is processed. Time is virtual:
``VirtualClock`` stands in for ``django.utils.timezone.now`` (per thread if
asked), so that instants are exact and a run is repeatable.

:class:`Ledger` remembers what was delivered; :func:`judge_mirror` compares
the database with the truth and returns every violation of the promises:
one row per provider order, a state never older than the newest truth
delivered, never moving backwards in true time, no repeated event.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_shipping_orders.callbacks.views import CallbackView
from django_shipping_orders.exceptions import OrderNotFound, ProviderTimeout
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent
from django_shipping_orders.providers.senderlv import SenderLvProvider
from django_shipping_orders.providers.shippit import ShippitProvider

SHIPPIT = "model-shippit"
SENDERLV = "model-senderlv"
SECRET = "model-callback-secret"
#: The order clock's window (the CLOCK_WINDOW default).
WINDOW = timedelta(seconds=5)
#: Versions of an order are at least this far apart: beyond two windows, their order is certain.
MIN_STEP = 2 * WINDOW + timedelta(seconds=1)

#: Each state's possible next states: the happy path, side loops, a return after delivery.
SHIPPIT_NEXT: dict[str, tuple[str, ...]] = {
    "processing": ("order_placed", "order_placed", "cancelled"),
    "order_placed": ("despatch_in_progress", "ready_for_pickup", "cancelled"),
    "despatch_in_progress": ("ready_for_pickup",),
    "ready_for_pickup": ("in_transit", "in_transit", "pickup_failed"),
    "pickup_failed": ("ready_for_pickup",),
    "in_transit": ("with_driver", "with_customs"),
    "with_customs": ("in_transit", "with_driver"),
    "with_driver": ("completed", "completed", "delivery_attempted"),
    "delivery_attempted": ("with_driver", "completed"),
    "completed": ("return_requested",),
    "return_requested": ("return_booked",),
    "return_booked": ("returned_to_sender",),
    "returned_to_sender": (),
    "cancelled": (),
}
#: Side loops: a state, the side state it may branch to, and back (pickup failed, then ready).
SIDE_LOOPS: dict[str, str] = {
    "ready_for_pickup": "pickup_failed",
    "with_driver": "delivery_attempted",
    "in_transit": "with_customs",
}
SENDERLV_NEXT: dict[str, tuple[str, ...]] = {
    "processing": ("accepted", "accepted", "cancelled"),
    "accepted": ("ready_for_pickup",),
    "ready_for_pickup": ("in_transit",),
    "in_transit": ("with_driver",),
    "with_driver": ("completed",),
    "completed": (),
    "cancelled": (),
}


# -- time ------------------------------------------------------------------------------------


class VirtualClock:
    """``timezone.now`` under control: one instant for all, or one per thread (``at``)."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self._local = threading.local()

    def now(self) -> datetime:
        return getattr(self._local, "instant", None) or self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current

    @contextmanager
    def at(self, instant: datetime) -> Iterator[None]:
        """This thread reads ``instant`` as now, until the block ends."""
        self._local.instant = instant
        try:
            yield
        finally:
            self._local.instant = None

    @contextmanager
    def installed(self) -> Iterator[VirtualClock]:
        with mock.patch.object(timezone, "now", self.now):
            yield self


# -- the provider's truth --------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    index: int
    at: datetime  # the true instant (our clock)
    state: str


@dataclass
class TrueOrder:
    account: str
    reference: str
    retailer_reference: str
    #: The provider's clock minus ours; within the window.
    skew: timedelta
    versions: list[Version] = field(default_factory=list)
    #: Sender.lv: the once-only callback was sent.
    called_back: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.account, self.reference)

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def version_at(self, instant: datetime) -> Version:
        found = self.versions[0]
        for version in self.versions:
            if version.at <= instant:
                found = version
        return found

    def next_states(self) -> tuple[str, ...]:
        table = SHIPPIT_NEXT if self.account == SHIPPIT else SENDERLV_NEXT
        return table[self.latest.state]

    def get_order_body(self, instant: datetime) -> dict[str, Any]:
        """Get Order as the provider answers it at ``instant`` (no provider time in it)."""
        version = self.version_at(instant)
        key = "tracking_number" if self.account == SHIPPIT else "order_reference"
        allocated = version.index > 0 and version.state != "cancelled"
        return {
            key: self.reference,
            "state": version.state,
            "retailer_reference": self.retailer_reference,
            "receiver_name": "Model Receiver",
            # Changes as the order gets further (not in a side loop): the mirror's details
            # must never go back either, and after a side loop a poll finds the very
            # document it found before the loop.
            "description": f"v{self.progress(version.index):04d}",
            "courier_job_id": f"CJ{self.reference}" if allocated else "",
            "parcel_attributes": [{"qty": 1, "weight": 1.5}],
            "product_attributes": [{"sku": "M1", "title": "Model", "quantity": 1, "price": 9.5}],
        }

    def progress(self, index: int) -> int:
        """How far the order got by version ``index``: distinct states outside side loops."""
        side = set(SIDE_LOOPS.values())
        return len({v.state for v in self.versions[: index + 1] if v.state not in side})

    def webhook_body(self, index: int) -> dict[str, Any]:
        """Shippit's webhook for version ``index``: its history up to then, newest first."""
        history = [
            {"status": v.state, "time": (v.at + self.skew).isoformat()}
            for v in reversed(self.versions[: index + 1])
        ]
        return {
            "tracking_number": self.reference,
            "current_state": self.versions[index].state,
            "retailer_reference": self.retailer_reference,
            "retailer_order_number": self.retailer_reference,
            "courier_job_id": f"CJ{self.reference}" if index else None,
            "status_history": history,
        }


@dataclass(frozen=True)
class Delivery:
    """One POST the provider makes (or made): which order, which version, the bytes."""

    account: str
    reference: str
    version: int
    body: bytes


class World:
    """Every order's truth; what the provider has pushed and not yet delivered."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.orders: dict[tuple[str, str], TrueOrder] = {}
        self.undelivered: list[Delivery] = []
        self.delivered: list[Delivery] = []
        self.lose_next_answer = False
        self._lock = threading.Lock()

    def create(self, account: str, skew: timedelta) -> TrueOrder:
        with self._lock:
            number = len(self.orders) + 1
            prefix = "PPM" if account == SHIPPIT else "SLV-M"
            order = TrueOrder(account, f"{prefix}{number:05d}", f"SHOP-{number:05d}", skew)
            order.versions.append(Version(0, self.clock.now(), "processing"))
            self.orders[order.key] = order
        return order

    def advance(self, order: TrueOrder, state: str) -> list[Delivery]:
        """The order moves to ``state`` now; returns what the provider pushes about it."""
        version = Version(len(order.versions), self.clock.now(), state)
        assert version.at - order.latest.at >= MIN_STEP, "versions too close to be ordered"
        order.versions.append(version)
        if order.account == SHIPPIT:
            body = order.webhook_body(version.index)
        elif not order.called_back:
            order.called_back = True  # Sender.lv: once, when processed, the Get Order body
            body = order.get_order_body(version.at)
        else:
            return []
        return [Delivery(order.account, order.reference, version.index, _dump(body))]

    def body_at(self, account: str, reference: str, instant: datetime) -> dict[str, Any]:
        order = self.orders.get((account, reference))
        if order is None:
            raise OrderNotFound(f"no order {reference}", account=account, reference=reference)
        return order.get_order_body(instant)


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


#: The world the model providers answer from (set by whoever runs a model).
CURRENT: dict[str, World] = {}


class _ModelProvider:
    """Answers from ``CURRENT["world"]`` instead of HTTP."""

    account: Any

    def get_order(self, reference: str) -> Any:
        world = CURRENT["world"]
        body = world.body_at(self.account.alias, reference, timezone.now())
        return self.parse_document(body)  # type: ignore[attr-defined]

    def place_order(self, order: Any) -> Any:
        world = CURRENT["world"]
        true = world.create(self.account.alias, timedelta(0))
        true.retailer_reference = str(order["retailer_reference"])
        if world.lose_next_answer:
            world.lose_next_answer = False
            raise ProviderTimeout("the answer was lost", account=self.account.alias)
        return self.parse_document(true.get_order_body(timezone.now()))  # type: ignore[attr-defined]


class ModelShippit(_ModelProvider, ShippitProvider):
    pass


class ModelSenderLv(_ModelProvider, SenderLvProvider):
    pass


def model_accounts(**extra: Any) -> dict[str, Any]:
    """``SHIPPING_ORDERS`` for the two model accounts."""
    common = {
        "API_KEY": "model-key",
        "CALLBACK_SECRETS": [SECRET],
        "RATE_LIMIT": "1000000/h",
        "MAX_RETRIES": 0,
    }
    return {
        "ACCOUNTS": {
            SHIPPIT: {"PROVIDER": "tests.model.world.ModelShippit", **common},
            SENDERLV: {"PROVIDER": "tests.model.world.ModelSenderLv", **common},
        },
        **extra,
    }


_FACTORY = RequestFactory()
_VIEW = CallbackView.as_view()


def post(delivery: Delivery) -> tuple[int, int | None]:
    """The provider's POST through the real callback view: (HTTP status, receipt id)."""
    request = _FACTORY.post(
        reverse("shipping_orders:callback", args=[delivery.account]),
        data=delivery.body,
        content_type="application/json",
        HTTP_X_SHIPPING_CALLBACK_SECRET=SECRET,
    )
    response = _VIEW(request, account=delivery.account)
    answer = json.loads(response.content)
    return response.status_code, answer.get("receipt")


# -- judging the mirror ------------------------------------------------------------------------


@dataclass
class Ledger:
    """What reached the mirror: receipts (by id) and applied polls, with their true versions."""

    receipts: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    polled: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(lambda: -1))
    #: Per order, the lowest true version the stored state may still stand for.
    floor: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    #: Per order, the highest details version seen stored.
    details: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(lambda: -1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def receipt(self, pk: int | None, delivery: Delivery) -> None:
        if pk is not None:
            with self._lock:
                self.receipts[pk] = (delivery.account, delivery.reference, delivery.version)

    def poll(self, key: tuple[str, str], version: int) -> None:
        with self._lock:
            self.polled[key] = max(self.polled[key], version)


@dataclass
class Verdict:
    """Violations found, by kind (each a list of readable descriptions)."""

    duplicate_rows: list[str] = field(default_factory=list)
    older_than_delivered: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    repeated_events: list[str] = field(default_factory=list)
    lost_receipts: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [
            *self.duplicate_rows,
            *self.older_than_delivered,
            *self.regressions,
            *self.repeated_events,
            *self.lost_receipts,
        ]


def judge_mirror(world: World, ledger: Ledger, *, settled: bool = False) -> Verdict:
    """Compare the database with the truth; see the module docstring. ``settled``: all drained."""
    verdict = Verdict()
    rows: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    waiting: dict[str, int] = defaultdict(int)
    for pk, account, reference, retailer, state, description in Order.objects.values_list(
        "pk", "account", "reference", "retailer_reference", "state", "description"
    ):
        if reference is None:
            waiting[retailer] += 1
        else:
            rows[(account, reference)].append((pk, state, description))
    events: dict[int, list[str]] = defaultdict(list)
    for order_id, to_state in OrderEvent.objects.order_by("pk").values_list("order_id", "to_state"):
        events[order_id].append(to_state)
    statuses = dict(CallbackReceipt.objects.values_list("pk", "status"))
    delivered: dict[tuple[str, str], int] = defaultdict(lambda: -1)
    for pk, (account, reference, version) in ledger.receipts.items():
        status = statuses.get(pk)
        if status is None:
            verdict.lost_receipts.append(f"receipt {pk} answered but not stored")
        elif status in (CallbackReceipt.Status.PROCESSED, CallbackReceipt.Status.IGNORED):
            key = (account, reference)
            delivered[key] = max(delivered[key], version)
        elif settled or status == CallbackReceipt.Status.UNPROCESSABLE:
            verdict.lost_receipts.append(f"receipt {pk} of {reference} left {status}")

    for key, order in world.orders.items():
        found = rows.get(key, [])
        awaiting = waiting.get(order.retailer_reference, 0)
        if len(found) + (awaiting if found else min(awaiting, 1)) > 1 or awaiting > 1:
            verdict.duplicate_rows.append(
                f"{order.reference}: {len(found)} rows, {awaiting} awaiting its reference"
            )
        if not found:
            continue
        pk, state, description = found[0]
        states = [version.state for version in order.versions]
        newest = max(delivered[key], ledger.polled[key])
        floor = max(ledger.floor[key], newest, 0)
        candidates = [i for i in range(floor, len(states)) if states[i] == state]
        if not candidates:
            kind = (
                verdict.older_than_delivered
                if state in states[ledger.floor[key] : floor]
                else verdict.regressions
            )
            kind.append(
                f"{order.reference}: stored {state!r}, truth since version {floor}: "
                f"{states[floor:]} (all: {states})"
            )
        else:
            ledger.floor[key] = candidates[0]
        if description:
            seen = int(description[1:])
            if seen < ledger.details[key]:
                verdict.regressions.append(
                    f"{order.reference}: details went back from v{ledger.details[key]} to v{seen}"
                )
            ledger.details[key] = max(ledger.details[key], seen)
        _judge_events(order.reference, states, events.get(pk, []), verdict)
    return verdict


def _judge_events(reference: str, states: list[str], recorded: list[str], verdict: Verdict) -> None:
    """Events must follow the truth: a subsequence of its states, in order, none twice."""
    position = -1
    for number, state in enumerate(recorded):
        following = [i for i in range(position + 1, len(states)) if states[i] == state]
        if following:
            position = following[0]
            continue
        if state in recorded[:number]:
            verdict.repeated_events.append(f"{reference}: re-entered {state!r} in {recorded}")
        else:
            verdict.regressions.append(f"{reference}: event {state!r} out of order: {recorded}")
        return
