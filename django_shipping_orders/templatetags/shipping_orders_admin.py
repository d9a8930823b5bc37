"""Template tags of the order admin's pages: the date bar, state names and badges."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList

from ..admin.display import humanize_state, state_badge
from ..admin.listing import date_bar

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def shipping_date_bar(cl: ChangeList) -> dict[str, Any]:
    """Django's date drill-down, built without scanning the table (see ``admin.listing``)."""
    return date_bar(cl)


@register.filter
def state_name(state: str) -> str:
    """``in_transit`` -> ``In transit``."""
    return humanize_state(state)


@register.filter
def state_tag(state: str) -> str:
    """The state as the list's coloured badge."""
    return state_badge(state)
