"""Template tags of the order admin's pages: the date bar, state names and badges."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList

from ..admin import attention
from ..admin.columns import OrderColumns
from ..admin.display import humanize_state, local_time, state_badge
from ..admin.listing import date_bar
from ..models import Order

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


@register.filter
def state_or_placement(order: Order) -> str:
    """The state badge, or "Rejected" / "Unknown" for an order the provider never took."""
    return OrderColumns().state_or_placement(order)


@register.filter
def pickup_time(order: Order) -> str:
    """The pickup time in the receiver's time zone, or "—"."""
    return local_time(order.pickup_at, order.delivery_timezone, "D j M H:i T") or "—"


@register.simple_tag(takes_context=True)
def shipping_desk_summary(context: dict[str, Any]) -> dict[str, int] | None:
    """The needs-attention count for the app's index page (None for who may not see orders)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("shipping_orders.view_order"):
        return None
    return attention.counts()
