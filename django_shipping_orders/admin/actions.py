"""The order admin's actions: refresh, print labels (see ``printing``), cancel, book for pickup.

Each talks to the provider through the same services a task or a person's
own code would use, and each is behind its own permission (see
``Order.Meta.permissions``). Results are Django messages: one line for what
went well, one line per order (or per account batch) that failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import services
from ..exceptions import OrderCannotBeCancelled, ShippingOrdersError
from ..models import Order
from .display import humanize_state, page_url
from .printing import print_labels, print_labels_and_documents

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

#: Orders one click may refresh: each is a provider request under the account's rate limit.
MAX_REFRESH = 100
#: Errors an action reports per order instead of failing the request.
ACTION_ERRORS = (ShippingOrdersError, ImproperlyConfigured, NotImplementedError, ValueError)


def _name(order: Order) -> str:
    return order.reference or f"#{order.pk} (not submitted)"


def _for_each(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    orders: Iterable[Order],
    act: Callable[[Order], bool],
    done: Callable[[int], str],
) -> None:
    """Run ``act`` on each order: one error line per failure, one success line for the rest.

    ``act`` returns False for an order it skipped (and reported) itself.
    """
    count = 0
    for order in orders:
        try:
            acted = act(order)
        except ACTION_ERRORS as err:
            modeladmin.message_user(request, f"{_name(order)}: {err}", messages.ERROR)
        else:
            count += int(acted)
    if count:
        modeladmin.message_user(request, done(count), messages.SUCCESS)


@admin.action(description=gettext_lazy("Refresh from the provider now"), permissions=["refresh"])
def refresh_from_provider(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> None:
    orders = list(queryset[: MAX_REFRESH + 1])
    if len(orders) > MAX_REFRESH:
        modeladmin.message_user(
            request,
            _("Select at most %(max)d orders to refresh at once; the scheduler refreshes the rest.")
            % {"max": MAX_REFRESH},
            messages.ERROR,
        )
        return

    def refresh(order: Order) -> bool:
        services.refresh_order(order, source="admin")
        return True

    _for_each(
        modeladmin,
        request,
        orders,
        refresh,
        lambda n: ngettext("Refreshed %d order.", "Refreshed %d orders.", n) % n,
    )


@admin.action(description=gettext_lazy("Cancel at the provider…"), permissions=["cancel"])
def cancel_at_provider(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> TemplateResponse | None:
    orders = list(queryset)
    if request.POST.get("post") != "yes":
        opts = modeladmin.model._meta
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": _("Cancel these orders at the provider?"),
            "opts": opts,
            "app_label": opts.app_label,
            "orders": orders,
            "cancellable": [order for order in orders if order.reference and not order.is_terminal],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "cancel_at_provider",
            "media": modeladmin.media,
        }
        return TemplateResponse(
            request, "admin/shipping_orders/order/cancel_confirmation.html", context
        )

    def cancel(order: Order) -> bool:
        if order.is_terminal:
            modeladmin.message_user(
                request,
                _("%(order)s: already %(state)s; nothing to cancel.")
                % {"order": _name(order), "state": humanize_state(order.state).lower()},
                messages.WARNING,
            )
            return False
        try:
            services.cancel_order(order)
        except OrderCannotBeCancelled as err:
            reason = err.description or err.code or str(err)
            where = (
                _(" (state at the provider: %s)") % humanize_state(err.order_state).lower()
                if err.order_state
                else ""
            )
            modeladmin.message_user(
                request,
                _("%(order)s: the provider refused to cancel it: %(reason)s%(where)s")
                % {"order": _name(order), "reason": reason, "where": where},
                messages.ERROR,
            )
            return False
        return True

    _for_each(
        modeladmin,
        request,
        orders,
        cancel,
        lambda n: ngettext("Cancelled %d order.", "Cancelled %d orders.", n) % n,
    )
    return None


@admin.action(description=gettext_lazy("Book for pickup"), permissions=["book"])
def book_for_pickup(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> None:
    batches: dict[str, list[Order]] = defaultdict(list)
    for order in queryset:
        if not order.reference:
            modeladmin.message_user(
                request, _("%s: not submitted yet.") % _name(order), messages.ERROR
            )
        elif order.is_terminal:
            modeladmin.message_user(
                request,
                _("%(order)s: %(state)s; cannot be booked.")
                % {"order": _name(order), "state": humanize_state(order.state)},
                messages.ERROR,
            )
        else:
            batches[order.account].append(order)
    for account, orders in batches.items():
        _book_batch(modeladmin, request, account, orders)


def _book_batch(
    modeladmin: ModelAdmin, request: HttpRequest, account: str, orders: list[Order]
) -> None:
    """Book one account's orders through ``services.book_orders`` and say what happened."""
    try:
        outcome = services.book_orders(account, orders)
    except ACTION_ERRORS as err:
        for order in orders:
            modeladmin.message_user(
                request,
                _("%(order)s: not booked: %(err)s") % {"order": _name(order), "err": err},
                messages.ERROR,
            )
        return
    for manifest in outcome.manifests:
        if not manifest.success:
            continue
        refs = set(manifest.references)
        booked = [order for order in outcome.booked if order.reference in refs]
        text = ngettext(
            "Booked %(count)d order of account %(account)s with %(courier)s for pickup.",
            "Booked %(count)d orders of account %(account)s with %(courier)s for pickup.",
            len(booked) or manifest.order_count or 0,
        ) % {
            "count": len(booked) or manifest.order_count or 0,
            "account": account,
            "courier": manifest.courier_display or _("the courier"),
        }
        url = page_url("admin:shipping_orders_manifest_change", manifest.pk)
        if url:
            label = _("Manifest %s") % (manifest.number or manifest.pk)
            modeladmin.message_user(
                request, format_html('{} <a href="{}">{}</a>', text, url, label), messages.SUCCESS
            )
        else:
            modeladmin.message_user(request, text, messages.SUCCESS)
    for order, error in outcome.failed:
        modeladmin.message_user(
            request,
            _("%(order)s: not booked: %(err)s") % {"order": _name(order), "err": error},
            messages.ERROR,
        )


#: An action on selected orders, as Django calls it: the admin, the request, the selection.
OrderAction = Callable[["ModelAdmin", HttpRequest, QuerySet[Order]], HttpResponseBase | None]

ORDER_ACTIONS: list[OrderAction] = [
    refresh_from_provider,
    print_labels,
    print_labels_and_documents,
    cancel_at_provider,
    book_for_pickup,
]
