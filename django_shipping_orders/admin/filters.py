"""The order changelist's filters: attention, label, state, account, courier and pickup day.

None of them scans the order table to build its choices, so the list costs
the same at 100 000 orders as at 100: accounts come from the settings, and
the states and couriers present are read with a "loose index scan" (one
index probe per distinct value, see ``listing.distinct_values``) instead of
``SELECT DISTINCT`` over every row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import couriers, states
from ..conf import shipping_settings
from ..exceptions import ShippingOrdersConfigurationError
from ..models import Order
from . import attention
from .display import humanize_state
from .listing import COUNTS_TTL, distinct_values

COURIERS_CACHE_KEY = "shipping_orders:admin:couriers"


def _rank_key(state: str) -> tuple[bool, int, str]:
    rank = states.state_rank(state)
    return (rank is None, rank or 0, state)


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Orders a person must look at (all, or for one reason); and open, final or unknown ones."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("any", _("Any reason")),
            *((reason.code, reason.title) for reason in attention.REASONS),
            ("open", _("Not final yet")),
            ("final", _("Final")),
            ("unknown", _("Unknown state")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "any":
            return attention.needing_attention(queryset)
        if value in attention.BY_CODE:
            return queryset.filter(attention.condition(codes=[value]))
        if value == "open":
            return queryset.exclude(state__in=states.FINAL_STATES)
        if value == "final":
            return queryset.filter(state__in=states.FINAL_STATES)
        if value == "unknown":
            return queryset.exclude(state__in=states.STATES)
        return queryset


#: The name of the first release.
AttentionFilter = NeedsAttentionFilter


class LabelFilter(admin.SimpleListFilter):
    """Stored or not, and printed or not: what the clerk still has to print."""

    title = _("label")
    parameter_name = "label"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", _("Stored")),
            ("no", _("Not yet")),
            ("unprinted", _("Not printed yet")),
            ("printed", _("Printed")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "yes":
            return queryset.exclude(label="")
        if value == "no":
            return queryset.filter(label="")
        if value == "unprinted":
            return queryset.exclude(label="").filter(label_printed_at__isnull=True)
        if value == "printed":
            return queryset.filter(label_printed_at__isnull=False)
        return queryset


#: The old name of ``LabelFilter``.
LabelAvailableFilter = LabelFilter


class StateFilter(admin.SimpleListFilter):
    """States as people read them, in happy-path order; every state present is offered."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        present = set(distinct_values("state"))
        if self.value():
            present.add(str(self.value()))  # keep the chosen one offered even if it just left
        return [(state, humanize_state(state)) for state in sorted(present, key=_rank_key)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(state=value) if value is not None else queryset


class AccountFilter(admin.SimpleListFilter):
    """The configured accounts (from the settings: nothing to read from the table)."""

    title = _("account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        try:
            aliases = shipping_settings.account_aliases
        except ShippingOrdersConfigurationError:
            aliases = []  # the system checks report the setting
        if self.value() and self.value() not in aliases:
            aliases = [*aliases, str(self.value())]
        return [(alias, alias) for alias in aliases] if len(aliases) > 1 else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(account=value) if value is not None else queryset


class CourierFilter(admin.SimpleListFilter):
    """Every courier seen, by the name people read (one entry however providers spell it)."""

    title = _("courier")
    parameter_name = "courier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        choices = cache.get(COURIERS_CACHE_KEY)
        if choices is None:
            choices = sorted(
                ((key, _courier_name(key)) for key in distinct_values("courier")),
                key=lambda item: item[1].lower(),
            )
            cache.set(COURIERS_CACHE_KEY, choices, COUNTS_TTL)
        return list(choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(courier=value) if value else queryset


#: Orders read per courier for its spelling: a sample, never all of a courier's orders.
SPELLING_SAMPLE = 50


def _courier_name(key: str) -> str:
    """The courier's name: configured or known, else the best spelling its orders use."""
    known = couriers.display_name(key)
    if known != key:
        return known
    rows = (
        Order.objects.filter(courier=key)
        .order_by()
        .values_list("courier_name", "courier_allocation")[:SPELLING_SAMPLE]
    )
    names = {name or allocation for name, allocation in rows} - {""}
    # One name whatever order the database lists them in: the spelling with the most
    # accents and letters beyond ASCII ("Zariņš" over "Zarins"), then the first.
    return couriers.display_name(key, min(names, key=_spelling_rank) if names else "")


def _spelling_rank(name: str) -> tuple[int, str]:
    return (-sum(1 for char in name if ord(char) > 127), name)


def today_range() -> tuple[Any, Any]:
    """Start and end of today in the site's time zone."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today + timedelta(days=1)


class PickupFilter(admin.SimpleListFilter):
    """When the courier comes, by the site's calendar (today's pickups first)."""

    title = _("pickup")
    parameter_name = "pickup"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("today", _("Today")),
            ("tomorrow", _("Tomorrow")),
            ("week", _("Next 7 days")),
            ("past", _("Before today")),
            ("none", _("No pickup time")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "none":
            return queryset.filter(pickup_at__isnull=True)
        today, _end = today_range()
        ranges = {
            "today": (today, today + timedelta(days=1)),
            "tomorrow": (today + timedelta(days=1), today + timedelta(days=2)),
            "week": (today, today + timedelta(days=7)),
        }
        if value in ranges:
            start, end = ranges[value]
            return queryset.filter(pickup_at__gte=start, pickup_at__lt=end)
        if value == "past":
            return queryset.filter(pickup_at__lt=today)
        return queryset
