"""Printing labels without surprises: a confirmation first, a record after.

"Print labels" never prints straight away. It shows what will be printed and
what will not, and why (no stored label, cancelled, final without a
shipment), and which labels were printed before and by whom; only the
person's "Print" sends the merged PDF. The orders printed are recorded
(``sync.mark_printed``), so the "Not printed yet" filter and "Print today's
pickups" leave them out next time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import states, sync
from ..exceptions import LabelError
from ..label_documents import merge_with_documents
from ..labels import merge_labels
from ..models import Order
from .filters import today_range

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

#: States in which no parcel leaves: a label of such an order must not be printed.
_NOTHING_SHIPS = frozenset({"cancelled", "invalidated"})


def why_not_printable(order: Order) -> str:
    """Why ``order``'s label must not be printed, or "" when it may."""
    if order.placement == Order.Placement.REJECTED:
        return _("rejected by the provider")
    if order.state in _NOTHING_SHIPS:
        return _("cancelled") if order.state == "cancelled" else _("nothing ships")
    if states.is_terminal(order.state) and not order.courier_job_id:
        return _("final without a shipment")
    if not order.label:
        return _("no stored label yet")
    return ""


def todays_unprinted(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Orders picked up today (the site's calendar) with a stored label not printed yet."""
    start, end = today_range()
    return (
        queryset.filter(pickup_at__gte=start, pickup_at__lt=end, label_printed_at__isnull=True)
        .exclude(label="")
        .exclude(state__in=_NOTHING_SHIPS)
        .exclude(placement=Order.Placement.REJECTED)
        .order_by("pickup_at", "pk")
    )


def confirmation(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    orders: list[Order],
    *,
    title: str,
    action_name: str = "print_labels",
) -> TemplateResponse:
    """The page listing what will and will not be printed, with the Print button."""
    opts = modeladmin.model._meta
    rows = [(order, why_not_printable(order)) for order in orders]
    printable = [order for order, reason in rows if not reason]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "app_label": opts.app_label,
        "rows": rows,
        "printable": printable,
        "skipped": [(order, reason) for order, reason in rows if reason],
        "reprints": [order for order in printable if order.label_printed_at],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": action_name,
        "media": modeladmin.media,
    }
    return TemplateResponse(request, "admin/shipping_orders/order/print_confirmation.html", context)


@admin.action(description=gettext_lazy("Print labels…"), permissions=["print_label"])
def print_labels(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Order],
    merge: Callable[[list[Order]], bytes] = merge_labels,
    action_name: str = "print_labels",
) -> HttpResponse | None:
    """Confirm first; on "Print", one PDF of the printable labels, recorded as printed."""
    orders = list(queryset)  # in the order of the list they were selected from
    if request.POST.get("post") != "yes":
        return confirmation(
            modeladmin, request, orders, title=_("Print these labels?"), action_name=action_name
        )
    # Printed in the order the confirmation listed them (the ids come back in that order).
    position = {str(pk): index for index, pk in enumerate(request.POST.getlist("_selected_action"))}
    orders.sort(key=lambda order: position.get(str(order.pk), len(position)))
    printable = [order for order in orders if not why_not_printable(order)]
    if not printable:
        modeladmin.message_user(
            request, _("None of the selected orders has a label to print."), messages.ERROR
        )
        return None
    try:
        pdf = merge(printable)
    except (LabelError, OSError) as err:
        modeladmin.message_user(request, _("Could not merge the labels: %s") % err, messages.ERROR)
        return None
    sync.mark_printed(printable, request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'inline; filename="shipping-labels-{stamp}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def print_today_view(modeladmin: ModelAdmin, request: HttpRequest) -> Any:
    """The one-click "Print today's pickups not printed yet": its confirmation page."""
    orders = list(todays_unprinted(modeladmin.get_queryset(request)))
    if not orders:
        modeladmin.message_user(
            request, _("Every label of today's pickups has been printed."), messages.SUCCESS
        )
        return None
    return confirmation(
        modeladmin, request, orders, title=_("Print the labels of today's pickups not printed yet?")
    )


@admin.action(
    description=gettext_lazy("Print labels with customs documents…"),
    permissions=["print_label"],
)
def print_labels_and_documents(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]
) -> HttpResponse | None:
    """The same, each label followed by the order's other stored documents (customs invoices …)."""
    return print_labels(
        modeladmin,
        request,
        queryset,
        merge=merge_with_documents,
        action_name="print_labels_and_documents",
    )
