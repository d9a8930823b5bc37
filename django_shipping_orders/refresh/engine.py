"""The refresh engine: fetch claimed orders inside the rate limit, apply what the provider says.

Orders are claimed through :mod:`.claims`; the threads are :mod:`.pool`'s; what a run did is
a :class:`.summary.RefreshSummary`; the test for "nothing new" is :mod:`.unchanged`'s.

Fetching runs in a bounded pool of threads (``REFRESH_WORKERS``). Each
request takes its slot of the shared rate budget in the HTTP client, at the
moment it is sent (:mod:`..ratelimit`). Without ``wait`` the engine fetches
what the budget allows now: the first request the budget (or a 429) refuses
marks its account spent for the run, and the account's other orders are
reported as skipped and stay due. With ``wait`` each request waits for its
slot as long as it takes, so every selected order is fetched.
Faults of the provider (and bugs in an adapter) are recorded on the order
and in the summary; they never stop a batch.

Most polls find nothing new. When the provider's answer is exactly the
payload stored on the order, ``apply_document`` would change nothing and
only write the bookkeeping (last sync, next poll); the engine writes that
bookkeeping itself, and only if the row has not been touched since it was
claimed (``updated_at``). Anything else goes through ``apply_document``, the
one write path of mirrored data.

The worker threads only fetch and compare; the thread that claims does every
write, between chunks (:mod:`.writer`): the bookkeeping of unchanged answers
for many orders in one statement, the changed ones through
``sync.apply_documents`` with one commit and one label task per chunk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import policy, sync
from ..conf import AccountSettings, shipping_settings
from ..exceptions import (
    RateBudgetExhausted,
    RateLimited,
    ShippingOrdersConfigurationError,
    ShippingOrdersError,
)
from ..models import Order, Source
from ..providers import Provider, get_provider
from ..redaction import get_logger, scrub
from . import spare
from .claims import _writes, claim, claim_due, due_orders, held_elsewhere, release
from .pool import Pool
from .summary import RefreshFailure, RefreshSummary
from .unchanged import unchanged
from .writer import ChunkWriter

logger = get_logger("django_shipping_orders.refresh")

ProgressCallback = Callable[[int, int], None]


# -- running a batch -------------------------------------------------------------------------


def refresh_due(
    *,
    account: str | None = None,
    limit: int | None = None,
    wait: bool = False,
    workers: int | None = None,
    source: str = Source.REFRESH,
    progress: ProgressCallback | None = None,
    spare: bool = True,
) -> RefreshSummary:
    """Refresh the orders due now, at most ``limit``; see the module docstring.

    Orders still processing, the looks after a pickup, and those late by
    ``MAX_DEFERRAL`` are taken first, then the rest; each part oldest due
    first (:func:`.claims.claim_due`).

    Then, unless ``limit`` or ``wait`` is given (or ``spare`` is false), the
    spare budget polls the orders most likely to have changed (:mod:`.spare`).
    """
    if account is not None:
        shipping_settings.account(account)  # UnknownAccount names the configured ones
    engine = _Engine(wait=wait, workers=workers, source=source, progress=progress)
    # Due by the time the run started: an order that fails and is due again at once
    # (ERROR_INITIAL 0) waits for the next run instead of being claimed again ahead of
    # the due orders this run has not tried yet.
    started = timezone.now()
    total = due_orders(account, now=started).count()
    engine.summary.selected = min(total, limit) if limit is not None else total
    remaining = [engine.summary.selected]

    def next_chunk(size: int) -> list[Order]:
        want = min(size, remaining[0])
        if want <= 0:
            return []
        queryset = due_orders(account, now=started).exclude(account__in=engine.exhausted)
        # Processing polls and looks after a pickup (and polls late by MAX_DEFERRAL) first:
        # when the budget runs out, the orders left due are those with hours of room. Also
        # across runs at once: none starts on the rest while another holds first ones.
        elsewhere = held_elsewhere(account, engine.leases).exclude(account__in=engine.exhausted)
        chunk = claim_due(
            queryset, limit=want, policy_settings=engine._policy, others_first=elsewhere
        )
        engine.leases.update(order.lease_expires_at for order in chunk if order.lease_expires_at)
        remaining[0] -= len(chunk)
        return chunk

    engine.run(next_chunk)
    if engine.exhausted and remaining[0] > 0:
        # Without --wait the rest of the selection is reported, not fetched.
        left = due_orders(account).filter(account__in=engine.exhausted).count()
        engine.summary.skipped_rate_limited += min(left, remaining[0])
    if spare and limit is None and not wait:
        _spend_spare(engine, account)
    return engine.summary


def _spend_spare(engine: _Engine, account: str | None) -> None:
    """Poll, with what the due orders left of each account's budget, the likeliest changed."""
    now = timezone.now()
    ids: list[int] = []
    for alias in [account] if account else shipping_settings.account_aliases:
        settings = engine._account(alias)
        if alias in engine.exhausted or isinstance(settings, Exception):
            continue
        ids += spare.pick(
            alias, spare.spare_slots(settings, engine._policy), now=now, policy=engine._policy
        )
    if ids:
        engine.summary.selected += len(ids)
        engine.summary.spare += len(ids)
        engine._writer.keep_schedule = True
        # Each spare request checks the reserve where it takes its slot: two runs at once,
        # or two aliases of one key, cannot spend what is kept for placing and labels.
        engine.share = engine._policy.SPARE_SHARE
        engine.spare_phase = True
        engine.run(_id_chunks(engine, ids, open_only=True, seen_before=now))


def refresh_orders(
    orders: Sequence[int] | QuerySet[Order],
    *,
    wait: bool = False,
    workers: int | None = None,
    source: str = Source.REFRESH,
    progress: ProgressCallback | None = None,
) -> RefreshSummary:
    """Refresh the given orders (ids or a queryset) whether due or not, each at most once."""
    if isinstance(orders, QuerySet):
        ids = list(
            orders.filter(reference__isnull=False).order_by("pk").values_list("pk", flat=True)
        )
    else:
        ids = list(dict.fromkeys(int(pk) for pk in orders))
    engine = _Engine(wait=wait, workers=workers, source=source, progress=progress)
    engine.summary.selected = len(ids)
    engine.run(_id_chunks(engine, ids))
    return engine.summary


def _id_chunks(
    engine: _Engine,
    ids: list[int],
    *,
    open_only: bool = False,
    seen_before: datetime | None = None,
) -> Callable[[int], list[Order]]:
    """Claims ``ids`` in order, a chunk at a time, skipping leased ones and spent accounts.

    ``open_only`` (spare polls): an order that reached a final state after it was picked
    (a callback in between) is not claimed, so no request is spent on it.
    ``seen_before`` (spare polls: when they were picked): an order synced since (by another
    run at the same time, or a callback) is fresh, and is not claimed either.
    """
    position = [0]

    def next_chunk(size: int) -> list[Order]:
        while position[0] < len(ids):
            part = ids[position[0] : position[0] + size]
            position[0] += len(part)
            orders = Order.objects.open() if open_only else Order.objects.all()
            base = orders.filter(pk__in=part, reference__isnull=False)
            if seen_before is not None:
                base = base.filter(
                    Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=seen_before)
                )
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

    return next_chunk


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
        #: Seconds a request waits for its rate slot: as long as it takes, or not at all.
        self._wait_budget: float | None = None if wait else 0.0
        self.summary = RefreshSummary()
        self.exhausted: set[str] = set()
        self._accounts: dict[str, AccountSettings | Exception] = {}
        # Read once per run: settings are parsed on every access.
        self._policy = policy.current_policy()
        self._providers: dict[tuple[str, float], Provider] = {}
        #: The share of each account's limit this run's requests may fill (spare polls: less).
        self.share = 1.0
        #: Polling orders not yet due with the spare budget (``_spend_spare``).
        self.spare_phase = False
        #: The leases this run took (one per claim): orders it holds are not "another run's".
        self.leases: set[datetime] = set()
        self._lock = threading.Lock()
        self._done: list[Order] = []
        #: What the workers fetched, written by the claiming thread between chunks.
        self._writer = ChunkWriter(self, source=source, policy=self._policy)
        self._count = 0

    def run(self, next_chunk: Callable[[int], list[Order]]) -> None:
        # Claim a little ahead of the workers, never far: a claimed order's
        # lease runs while it waits in the queue. With ``wait`` the workers sleep
        # for the budget, so chunks stay small; without it they are larger, which
        # spreads the cost of claiming and of writing the bookkeeping over more orders.
        # The queue holds one chunk, so the workers fetch it while the last one is written.
        per_worker = 8 if self.wait else 25
        size = min(100, max(25, self.workers * per_worker))
        pool = Pool(self.workers, self._refresh_one, backlog=size) if self.workers > 1 else None
        try:
            while True:
                self._writer.write()
                self._release_done()
                chunk = next_chunk(size)
                if not chunk:
                    break
                for order in chunk:
                    if pool is None:
                        self._refresh_one(order)
                    else:
                        pool.put(order)
        finally:
            if pool is not None:
                pool.close()
            try:
                self._writer.write()
            finally:
                self._release_done()  # whatever the last write did: no lease kept to expiry

    def _account(self, alias: str) -> AccountSettings | Exception:
        if alias not in self._accounts:
            try:
                self._accounts[alias] = shipping_settings.account(alias)
            except ShippingOrdersConfigurationError as err:
                self._accounts[alias] = err
        return self._accounts[alias]

    def _provider(self, alias: str) -> Provider:
        # Once per run: get_provider reads and compares the account's settings on every call.
        provider = self._providers.get((alias, self.share))
        if provider is None:
            provider = get_provider(alias).with_wait(self._wait_budget).with_share(self.share)
            self._providers[alias, self.share] = provider
        return provider

    def _skip(self, order: Order) -> None:
        """Leave ``order`` due (its account's budget is spent for this run) and give it back."""
        with self._lock:
            self.exhausted.add(order.account)
            if self.spare_phase:
                # A spare poll (the order is not due): the rest of the limit is the reserve's.
                self.summary.spare_held_back += 1
            else:
                self.summary.skipped_rate_limited += 1
        self._finish([order])

    def _refresh_one(self, order: Order) -> None:
        if order.account in self.exhausted:
            self._skip(order)
            return
        account = self._account(order.account)
        if isinstance(account, Exception):
            self._fail(order, account)
            self._finish([order])
            return
        try:
            provider = self._provider(order.account)
            started = timezone.now()
            try:
                # Claims take orders with a reference only (the provider knows them).
                assert order.reference is not None
                document = provider.get_order(order.reference)
            except RateLimited as err:
                if not self.wait or isinstance(err, RateBudgetExhausted):
                    # Nothing wrong with the order: the budget is spent for now.
                    self._skip(order)
                    return
                raise
            # Counted, written and released with the rest of its chunk.
            self._writer.add((order, document, started), changed=not unchanged(order, document))
            return
        except Exception as err:
            self._failed(order, err)
        self._finish([order])

    def _failed(self, order: Order, err: Exception) -> None:
        """Record ``err`` on ``order`` and in the summary."""
        if isinstance(err, ShippingOrdersError):
            self._record_failure(order, err)
            self._fail(order, err)
            return
        # A bug in an adapter, a database fault: recorded like a provider
        # fault (with its type, since str(KeyError) is only the key).
        logger.error("Refreshing %s failed unexpectedly", order, exc_info=err)
        # Not a provider error, so not scrubbed by the client: its text may quote one.
        error = ShippingOrdersError(scrub(f"{type(err).__name__}: {err}"))
        self._record_failure(order, error)
        self._fail(order, err, str(error))

    def _record_failure(self, order: Order, error: Exception) -> None:
        try:
            with _writes():
                sync.record_refresh_failure(order, error, keep_schedule=self._writer.keep_schedule)
        except Exception:
            logger.exception("Could not record the failure of %s", order)

    def _count_fetched(self, changed: bool, count: int = 1) -> None:
        with self._lock:
            self.summary.fetched += count
            if changed:
                self.summary.changed += count
            else:
                self.summary.unchanged += count

    def _finish(self, orders: list[Order], *, released: bool = False) -> None:
        with self._lock:
            if not released:
                self._done.extend(orders)
            self._count += len(orders)
            count = self._count
        if self.progress is not None:
            self.progress(count, self.summary.selected)

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
