"""The refresh engine: claim orders, fetch them inside the rate limit, apply what the provider says.

Claiming is a short transaction that takes the oldest due rows with
``SELECT … FOR UPDATE SKIP LOCKED`` and stamps them with a lease
(``lease_expires_at``), then commits: no row lock is held during an HTTP
call, and a worker on another machine skips both the locked rows and the
leased ones. The lease is given back as soon as the order is done; if the
worker dies instead, the lease simply expires (``REFRESH["LEASE"]``) and the
order is due again. The stamp is conditional (``… WHERE lease is free``), so
even a database without ``SKIP LOCKED`` (SQLite) never hands one order to two
workers.

Fetching runs in a bounded pool of threads (``REFRESH_WORKERS``), each
request admitted by the shared rate limiter first. Without ``wait`` the
engine fetches what the budget allows now and reports the rest as skipped;
with it, it sleeps for the budget until every selected order is fetched.
Faults of the provider (and bugs in an adapter) are recorded on the order
and in the summary; they never stop a batch.

Most polls find nothing new. When the provider's answer is exactly the
payload stored on the order, ``apply_document`` would change nothing and
only write the bookkeeping (last sync, next poll); the engine writes that
bookkeeping itself, for many orders in one transaction, and only if the row
has not been touched since it was claimed (``updated_at``). Anything else
goes through ``apply_document``, the one write path of mirrored data.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from . import policy, ratelimit, services, states
from .conf import AccountSettings, shipping_settings
from .documents import OrderDocument
from .exceptions import ShippingOrdersConfigurationError, ShippingOrdersError
from .models import Order, Source
from .providers import get_provider
from .sync import apply_document, normalize_json

logger = logging.getLogger("django_shipping_orders.refresh")

#: What the workers need of an order: to fetch it, to tell an unchanged answer, and to
#: compute its next poll; ``apply_document`` loads the rest when something changed.
_CLAIM_FIELDS = (
    "id",
    "account",
    "reference",
    "state",
    "lease_expires_at",
    "refresh_failures",
    "raw",
    "updated_at",
    "created_at",
    "pickup_at",
    "courier_job_id",
    "label_url",
)
#: Unchanged orders whose bookkeeping one worker writes in one transaction.
_FLUSH_SIZE = 25

ProgressCallback = Callable[[int, int], None]


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
        return text


# -- selecting and claiming ------------------------------------------------------------------


def _free(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def due_orders(account: str | None = None, *, now: datetime | None = None) -> Any:
    """Orders due for a refresh now and not leased, oldest due first (configured accounts only)."""
    now = now or timezone.now()
    aliases = [account] if account else shipping_settings.account_aliases
    return (
        Order.objects.filter(account__in=aliases, next_refresh_at__lte=now, reference__isnull=False)
        .exclude(state__in=states.TERMINAL_STATES)
        .filter(_free(now))
        .order_by("next_refresh_at", "pk")
    )


def claim(queryset: Any, *, limit: int, now: datetime | None = None) -> list[Order]:
    """Lease up to ``limit`` orders of ``queryset`` to this worker; returns the ones it got.

    The transaction only selects and stamps rows; it commits before any
    HTTP call is made.
    """
    now = now or timezone.now()
    lease = policy.current_policy().LEASE
    # A distinct stamp per claim, so the worker can tell its rows from another's.
    token = now + timedelta(seconds=lease, microseconds=random.randrange(1, 1_000_000))
    ordering = queryset.query.order_by or ("next_refresh_at", "pk")
    with transaction.atomic():
        candidates = queryset.filter(_free(now)).order_by(*ordering)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Order.objects.filter(pk__in=ids).filter(_free(now)).update(lease_expires_at=token)
    claimed = Order.objects.filter(pk__in=ids, lease_expires_at=token).only(*_CLAIM_FIELDS)
    return sorted(claimed, key=lambda order: ids.index(order.pk))


def release(orders: Iterable[Order]) -> None:
    """Give back the leases of ``orders`` (only those still ours)."""
    by_token: dict[datetime, list[int]] = defaultdict(list)
    for order in orders:
        if order.lease_expires_at is not None:
            by_token[order.lease_expires_at].append(order.pk)
    for token, ids in by_token.items():
        Order.objects.filter(pk__in=ids, lease_expires_at=token).update(lease_expires_at=None)


# -- running a batch -------------------------------------------------------------------------


def refresh_due(
    *,
    account: str | None = None,
    limit: int | None = None,
    wait: bool = False,
    workers: int | None = None,
    source: str = Source.REFRESH,
    progress: ProgressCallback | None = None,
) -> RefreshSummary:
    """Refresh the orders due now (oldest first), at most ``limit``; see the module docstring."""
    if account is not None:
        shipping_settings.account(account)  # UnknownAccount names the configured ones
    engine = _Engine(wait=wait, workers=workers, source=source, progress=progress)
    total = due_orders(account).count()
    engine.summary.selected = min(total, limit) if limit is not None else total
    remaining = [engine.summary.selected]

    def next_chunk(size: int) -> list[Order]:
        want = min(size, remaining[0])
        if want <= 0:
            return []
        queryset = due_orders(account).exclude(account__in=engine.exhausted)
        chunk = claim(queryset, limit=want)
        remaining[0] -= len(chunk)
        return chunk

    engine.run(next_chunk)
    if engine.exhausted and remaining[0] > 0:
        # Without --wait the rest of the selection is reported, not fetched.
        left = due_orders(account).filter(account__in=engine.exhausted).count()
        engine.summary.skipped_rate_limited += min(left, remaining[0])
    return engine.summary


def refresh_orders(
    orders: Sequence[int] | Any,
    *,
    wait: bool = False,
    workers: int | None = None,
    source: str = Source.REFRESH,
    progress: ProgressCallback | None = None,
) -> RefreshSummary:
    """Refresh the given orders (ids or a queryset) whether due or not, each at most once."""
    if hasattr(orders, "values_list"):
        ids = list(
            orders.filter(reference__isnull=False).order_by("pk").values_list("pk", flat=True)
        )
    else:
        ids = list(dict.fromkeys(int(pk) for pk in orders))
    engine = _Engine(wait=wait, workers=workers, source=source, progress=progress)
    engine.summary.selected = len(ids)
    position = [0]

    def next_chunk(size: int) -> list[Order]:
        while position[0] < len(ids):
            part = ids[position[0] : position[0] + size]
            position[0] += len(part)
            base = Order.objects.filter(pk__in=part, reference__isnull=False)
            if engine.exhausted:
                engine.summary.skipped_rate_limited += base.filter(
                    account__in=engine.exhausted
                ).count()
                base = base.exclude(account__in=engine.exhausted)
            wanted = base.count()
            chunk = claim(base.order_by("pk"), limit=len(part))
            engine.summary.skipped_busy += wanted - len(chunk)
            if chunk:
                return chunk
        return []

    engine.run(next_chunk)
    return engine.summary


def _unchanged(order: Order, document: OrderDocument) -> bool:
    """True when ``document`` is exactly the full payload stored on ``order``.

    Every mirrored field, parcel and product is read from that payload, so
    ``apply_document`` would change nothing: only the bookkeeping moves.
    """
    return document.is_full and bool(order.raw) and normalize_json(document.raw) == order.raw


class _Engine:
    """One run: admits each claimed order through the rate limiter and feeds the pool."""

    def __init__(
        self,
        *,
        wait: bool,
        workers: int | None,
        source: str,
        progress: ProgressCallback | None,
    ) -> None:
        self.wait = wait
        self.workers = max(1, workers if workers is not None else shipping_settings.refresh_workers)
        self.source = source
        self.progress = progress
        self.limiter = ratelimit.default_limiter()
        self.summary = RefreshSummary()
        self.exhausted: set[str] = set()
        self._accounts: dict[str, AccountSettings | Exception] = {}
        self._lock = threading.Lock()
        self._done: list[Order] = []
        self._count = 0
        self._local = threading.local()

    def run(self, next_chunk: Callable[[int], list[Order]]) -> None:
        # Claim a little ahead of the workers, never far: a claimed order's
        # lease runs while it waits in the queue.
        size = min(100, max(25, self.workers * 8))
        pool = _Pool(self.workers, self._refresh_one, self.flush) if self.workers > 1 else None
        try:
            while True:
                self._release_done()
                chunk = next_chunk(size)
                if not chunk:
                    break
                admitted = {order.pk for order in self._admit(chunk)}
                release([order for order in chunk if order.pk not in admitted])
                for order in chunk:
                    if order.pk not in admitted:
                        continue
                    if pool is None:
                        self._refresh_one(order)
                    else:
                        pool.put(order)
                if pool is None:
                    self.flush()
        finally:
            if pool is not None:
                pool.close()
            else:
                self.flush()
            self._release_done()

    def _account(self, alias: str) -> AccountSettings | Exception:
        if alias not in self._accounts:
            try:
                self._accounts[alias] = shipping_settings.account(alias)
            except ShippingOrdersConfigurationError as err:
                self._accounts[alias] = err
        return self._accounts[alias]

    def _admit(self, chunk: list[Order]) -> list[Order]:
        """The orders of ``chunk`` that got a slot of their account's rate budget.

        Without ``wait``, slots are taken for the whole chunk in one round trip
        per account, and an account whose budget runs out is skipped from then on.
        """
        by_account: dict[str, list[Order]] = defaultdict(list)
        for order in chunk:
            by_account[order.account].append(order)
        admitted: list[Order] = []
        for alias, orders in by_account.items():
            account = self._account(alias)
            if isinstance(account, Exception):
                for order in orders:
                    self._fail(order, account)
                continue
            if alias in self.exhausted:
                granted = 0
            elif self.wait:
                granted = sum(1 for _ in orders if self.limiter.acquire(account))
            else:
                granted = self.limiter.try_acquire_many(account, len(orders))
            if granted < len(orders):
                self.exhausted.add(alias)
                self.summary.skipped_rate_limited += len(orders) - granted
            admitted.extend(orders[:granted])
        return admitted

    def _refresh_one(self, order: Order) -> None:
        try:
            with ratelimit.prepaid(order.account):
                started = timezone.now()
                document = get_provider(order.account).get_order(order.reference)
            if _unchanged(order, document):
                self._queue_unchanged(order, document, started)
                return  # counted and released when the batch of bookkeeping is written
            result = apply_document(order.account, document, self.source, observed_at=started)
        except ShippingOrdersError as err:
            self._record_failure(order, err)
            self._fail(order, err)
        except Exception as err:
            # A bug in an adapter, a database fault: recorded like a provider
            # fault (with its type, since str(KeyError) is only the key).
            logger.exception("Refreshing %s failed unexpectedly", order)
            error = ShippingOrdersError(f"{type(err).__name__}: {err}")
            self._record_failure(order, error)
            self._fail(order, err, str(error))
        else:
            self._count_fetched(result.changed)
        self._finish([order])

    def _record_failure(self, order: Order, error: Exception) -> None:
        try:
            services.record_refresh_failure(order, error)
        except Exception:
            logger.exception("Could not record the failure of %s", order)

    def _count_fetched(self, changed: bool, count: int = 1) -> None:
        with self._lock:
            self.summary.fetched += count
            if changed:
                self.summary.changed += count
            else:
                self.summary.unchanged += count

    def _finish(self, orders: list[Order]) -> None:
        with self._lock:
            self._done.extend(orders)
            self._count += len(orders)
            count = self._count
        if self.progress is not None:
            self.progress(count, self.summary.selected)

    def _queue_unchanged(self, order: Order, document: OrderDocument, started: datetime) -> None:
        pending = self._pending()
        pending.append((order, document, started))
        if len(pending) >= _FLUSH_SIZE:
            self.flush()

    def _pending(self) -> list[tuple[Order, OrderDocument, datetime]]:
        if not hasattr(self._local, "pending"):
            self._local.pending = []
        return self._local.pending

    def flush(self) -> None:
        """Write the bookkeeping of this thread's unchanged orders, in one transaction."""
        pending, self._local.pending = self._pending(), []
        if not pending:
            return
        now = timezone.now()
        settings = policy.current_policy()
        touched = []
        try:
            with transaction.atomic():
                for order, document, started in pending:
                    order.refresh_failures = 0
                    next_at = policy.next_refresh_at(
                        order, now=now, source=self.source, policy=settings
                    )
                    written = Order.objects.filter(pk=order.pk, updated_at=order.updated_at).update(
                        last_synced_at=now,
                        next_refresh_at=next_at,
                        refresh_failures=0,
                        last_error="",
                        updated_at=now,
                    )
                    if not written:
                        touched.append((order, document, started))
        except Exception as err:
            logger.exception("Could not write the refresh bookkeeping of %d orders", len(pending))
            for order, _, _ in pending:
                self._fail(order, err, f"{type(err).__name__}: {err}")
            self._finish([order for order, _, _ in pending])
            return
        self._count_fetched(False, len(pending) - len(touched))
        self._finish([order for order, _, _ in pending if all(order is not t[0] for t in touched)])
        for order, document, started in touched:
            # Changed since it was claimed (a callback, an admin action): the
            # full path decides what is newer.
            try:
                result = apply_document(order.account, document, self.source, observed_at=started)
            except Exception as err:
                logger.exception("Applying %s failed", order)
                self._fail(order, err, f"{type(err).__name__}: {err}")
            else:
                self._count_fetched(result.changed)
            self._finish([order])

    def _fail(self, order: Order, error: Exception, message: str = "") -> None:
        failure = RefreshFailure(
            order_id=order.pk,
            account=order.account,
            reference=order.reference or "",
            error=message or str(error),
            error_type=type(error).__name__,
        )
        with self._lock:
            self.summary.failed += 1
            self.summary.failures.append(failure)

    def _release_done(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        if done:
            release(done)


class _Pool:
    """Threads fed through a short queue; each closes its database connection when done."""

    def __init__(
        self, workers: int, work: Callable[[Order], None], finish: Callable[[], None]
    ) -> None:
        self._work = work
        self._finish = finish
        self._queue: queue.Queue[Order | None] = queue.Queue(maxsize=workers * 2)
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
            try:
                self._finish()
            finally:
                connections.close_all()
