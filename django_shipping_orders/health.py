"""The pipeline's health in figures, per account: what ``shipping_orders_status`` prints.

A handful of aggregate queries per account, each on an indexed column, plus
one read of the shared cache for the requests of the last hour. Callback
receipts are counted by whatever status they have, so a status added later
shows up without a change here; ``failed`` (worth retrying) and ``received``
(not processed yet) are the ones the thresholds look at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import caches
from django.db.models import Count, Min, Q
from django.utils import timezone

from . import schedules, states, usage
from .conf import AccountSettings, shipping_settings
from .models import CallbackReceipt, Order

#: Callbacks are counted over this window ("received in the last day").
CALLBACK_WINDOW = timedelta(hours=24)


@dataclass
class Thresholds:
    """Past these an account is unhealthy (``None`` switches a test off)."""

    max_failed_callbacks: int | None = 0
    max_waiting_age: timedelta | None = timedelta(minutes=10)
    max_due_age: timedelta | None = timedelta(minutes=30)
    max_label_failures: int | None = 0
    max_budget_share: float | None = None


@dataclass
class AccountHealth:
    """The figures of one account."""

    account: str
    provider: str
    rate_limit: str
    open_orders: int = 0
    open_by_state: dict[str, int] = field(default_factory=dict)
    due_now: int = 0
    oldest_due_at: datetime | None = None
    requests_last_hour: int = 0
    budget_per_hour: int = 0
    callbacks_last_24h: dict[str, int] = field(default_factory=dict)
    callbacks_failed: int = 0
    callbacks_waiting: int = 0
    oldest_waiting_at: datetime | None = None
    labels_pending: int = 0
    labels_retrying: int = 0
    labels_failed: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        """JSON-ready, times in ISO 8601 with their ages in seconds."""
        data = asdict(self)
        for name in ("oldest_due_at", "oldest_waiting_at"):
            moment = getattr(self, name)
            data[name] = moment.isoformat() if moment else None
            data[name.replace("_at", "_age_seconds")] = (
                round((now - moment).total_seconds()) if moment else None
            )
        return data


def _age(moment: datetime | None, now: datetime) -> timedelta:
    return now - moment if moment else timedelta(0)


def account_health(
    account: AccountSettings, thresholds: Thresholds, *, now: datetime | None = None
) -> AccountHealth:
    """The figures of ``account`` and what in them is past ``thresholds``."""
    now = now or timezone.now()
    rate = account.rate_limit
    health = AccountHealth(account=account.alias, provider=account.provider, rate_limit=str(rate))
    orders = Order.objects.filter(account=account.alias)
    by_state = (
        orders.exclude(state__in=states.TERMINAL_STATES)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    health.open_by_state = {state or "(none)": int(n) for state, n in by_state}
    health.open_orders = sum(health.open_by_state.values())
    due = Order.objects.due(account.alias, now=now).order_by()
    found = due.aggregate(n=Count("pk"), oldest=Min("next_refresh_at"))
    health.due_now, health.oldest_due_at = int(found["n"]), found["oldest"]
    health.requests_last_hour = usage.last_hour(
        caches[shipping_settings.rate_limit_cache], account.alias, now=now.timestamp()
    )
    health.budget_per_hour = int(rate.requests * 3600 / rate.seconds)
    receipts = CallbackReceipt.objects.filter(account=account.alias).order_by()
    recent = receipts.filter(received_at__gte=now - CALLBACK_WINDOW)
    health.callbacks_last_24h = {
        status: int(n) for status, n in recent.values_list("status").annotate(n=Count("pk"))
    }
    Status = CallbackReceipt.Status
    health.callbacks_failed = receipts.filter(status=Status.FAILED).count()
    waiting = receipts.filter(status=Status.RECEIVED).aggregate(
        n=Count("pk"), oldest=Min("received_at")
    )
    health.callbacks_waiting, health.oldest_waiting_at = int(waiting["n"]), waiting["oldest"]
    labels = (
        orders.exclude(state__in=states.TERMINAL_STATES)
        .filter(label="")
        .filter(~Q(label_url="") | ~Q(courier_job_id="") | ~Q(label_error=""))
        .aggregate(
            pending=Count("pk", filter=Q(label_error="")),
            # Failed with attempts left: the next refresh tries again, so not (yet) a problem.
            retrying=Count("pk", filter=schedules.label_retrying()),
            failed=Count("pk", filter=~Q(label_error="") & ~schedules.label_retrying()),
        )
    )
    health.labels_pending, health.labels_failed = int(labels["pending"]), int(labels["failed"])
    health.labels_retrying = int(labels["retrying"])
    health.problems = _problems(health, thresholds, now)
    return health


def _problems(health: AccountHealth, limits: Thresholds, now: datetime) -> list[str]:
    problems = []
    if limits.max_failed_callbacks is not None and health.callbacks_failed > (
        limits.max_failed_callbacks
    ):
        problems.append(
            f"{health.callbacks_failed} failed callback(s) waiting to be reprocessed "
            f"(more than {limits.max_failed_callbacks})"
        )
    waited = _age(health.oldest_waiting_at, now)
    if limits.max_waiting_age is not None and waited > limits.max_waiting_age:
        problems.append(
            f"the oldest unprocessed callback has waited {_minutes(waited)} "
            f"(more than {_minutes(limits.max_waiting_age)}): is qcluster running?"
        )
    late = _age(health.oldest_due_at, now)
    if limits.max_due_age is not None and late > limits.max_due_age:
        problems.append(
            f"the oldest due order has waited {_minutes(late)} for its refresh "
            f"(more than {_minutes(limits.max_due_age)}): is qcluster running?"
        )
    if limits.max_label_failures is not None and health.labels_failed > (limits.max_label_failures):
        problems.append(
            f"{health.labels_failed} label download(s) failed "
            f"(more than {limits.max_label_failures})"
        )
    if (
        limits.max_budget_share is not None
        and health.budget_per_hour
        and health.requests_last_hour > limits.max_budget_share * health.budget_per_hour
    ):
        problems.append(
            f"{health.requests_last_hour} requests in the last hour, more than "
            f"{limits.max_budget_share:.0%} of the hourly budget ({health.budget_per_hour})"
        )
    return problems


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def pipeline_health(
    thresholds: Thresholds | None = None, *, account: str | None = None
) -> list[AccountHealth]:
    """The figures of every configured account (or of ``account``)."""
    thresholds = thresholds or Thresholds()
    now = timezone.now()
    accounts = [shipping_settings.account(account)] if account else shipping_settings.accounts()
    return [account_health(settings, thresholds, now=now) for settings in accounts]
