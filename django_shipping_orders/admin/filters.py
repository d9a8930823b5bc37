"""The order changelist's filters: label, state, attention, courier and pickup day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import couriers, states
from ..models import Order
from .display import humanize_state


class LabelAvailableFilter(admin.SimpleListFilter):
    title = _("label")
    parameter_name = "label"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Stored")), ("no", _("Not yet"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "yes":
            return queryset.exclude(label="")
        if self.value() == "no":
            return queryset.filter(label="")
        return queryset


class StateFilter(admin.SimpleListFilter):
    """States as people read them; every state present is offered, unknown ones included."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        queryset = model_admin.get_queryset(request).order_by()
        present = queryset.values_list("state", flat=True).distinct()
        ranked = sorted(
            set(present), key=lambda s: (states.state_rank(s) is None, states.state_rank(s) or 0, s)
        )
        return [(state, humanize_state(state)) for state in ranked]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(state=value) if value is not None else queryset


class AttentionFilter(admin.SimpleListFilter):
    """Orders someone has to act on, still moving, or done with (``states.py`` decides)."""

    title = _("attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("needed", _("Needs a person")),
            ("open", _("Not final yet")),
            ("final", _("Final")),
            ("unknown", _("Unknown state")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == "needed":
            return queryset.filter(state__in=states.ATTENTION_STATES)
        if value == "open":
            return queryset.exclude(state__in=states.FINAL_STATES)
        if value == "final":
            return queryset.filter(state__in=states.FINAL_STATES)
        if value == "unknown":
            return queryset.exclude(state__in=states.STATES)
        return queryset


class CourierFilter(admin.SimpleListFilter):
    """Every courier seen, by the name people read (one entry however providers spell it)."""

    title = _("courier")
    parameter_name = "courier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        queryset = model_admin.get_queryset(request).order_by().exclude(courier="")
        spelled: dict[str, set[str]] = {}
        for key, name, allocation in queryset.values_list(
            "courier", "courier_name", "courier_allocation"
        ).distinct():
            spelled.setdefault(key, set()).add(name or allocation)
        # One name per key whatever order the database lists them in: the spelling with
        # the most accents and letters beyond ASCII ("Zariņš" over "Zarins"), then the first.
        choices = [
            (key, couriers.display_name(key, min(names - {""} or {""}, key=_spelling_rank)))
            for key, names in spelled.items()
        ]
        return sorted(choices, key=lambda item: item[1].lower())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(courier=value) if value else queryset


def _spelling_rank(name: str) -> tuple[int, str]:
    return (-sum(1 for char in name if ord(char) > 127), name)


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
        today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
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
