"""Django admin for the mirror: what a shipping clerk looks at every day.

Everything here is read-only: the mirror is the provider's data, and it
changes only through provider calls (the actions) and ``sync.apply_document``.
The changelist shows only columns of the order row, so it runs the same
queries for ten orders as for ten thousand.

Filters, inlines, display helpers and actions live in the modules
beside this one; ``receipts`` registers the callback receipt admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from .. import couriers
from ..models import Order
from ..utils import safe_web_url
from .actions import ORDER_ACTIONS, refresh_from_provider
from .display import (
    DOC_ICON,
    ReadOnlyAdminMixin,
    admin_link,
    label_url,
    local_time,
    money,
    pretty_json,
    state_badge,
)
from .documents import LabelDocumentInline, LabelDocumentViewMixin
from .filters import (
    AttentionFilter,
    CourierFilter,
    LabelAvailableFilter,
    PickupFilter,
    StateFilter,
)
from .inlines import OrderEventInline, ParcelInline, ProductInline


def _receiver_time(field: str, description: str) -> Callable[[Any, Order], str]:
    """A detail field showing the order's ``field`` in the receiver's time zone."""

    @admin.display(description=description)
    def show(model_admin: Any, order: Order) -> str:
        return local_time(getattr(order, field), order.delivery_timezone) or "—"

    return show


@admin.register(Order)
class OrderAdmin(LabelDocumentViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "reference_display",
        "receiver",
        "state_display",
        "courier_and_tracking",
        "pickup_column",
        "label_link",
        "last_synced",
    ]
    list_display_links = ["reference_display"]
    list_filter = [
        "account",
        StateFilter,
        AttentionFilter,
        CourierFilter,
        LabelAvailableFilter,
        PickupFilter,
    ]
    search_fields = [
        "reference",
        "retailer_reference",
        "courier_job_id",
        "receiver_name",
        "user_email",
        "delivery_postcode",
    ]
    search_help_text = _(
        "Reference, retailer reference, courier tracking number, receiver name, e-mail or postcode."
    )
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ORDER_ACTIONS
    inlines = [ParcelInline, ProductInline, LabelDocumentInline, OrderEventInline]
    change_form_template = "admin/shipping_orders/order/change_form.html"
    fieldsets = [
        (
            _("Order"),
            {
                "fields": [
                    ("reference", "account", "state_display"),
                    ("retailer_reference", "retailer_invoice", "retailer_order_number"),
                    ("placement", "created_at", "state_changed_at"),
                    "description",
                ]
            },
        ),
        (
            _("Courier and tracking"),
            {
                "fields": [
                    ("courier_display", "courier_type"),
                    ("tracking_number", "expected_delivery"),
                    ("pickup", "pickup_deadline"),
                    ("dropoff", "dropoff_deadline"),
                ]
            },
        ),
        (_("Label"), {"fields": ["label_preview", ("label_downloaded_at", "booked_at")]}),
        (_("Pickup booking"), {"fields": [("manifest_link", "booking_error")]}),
        (
            _("Receiver"),
            {
                "fields": [
                    ("receiver_name", "receiver_contact_number"),
                    "address",
                    ("delivery_timezone", "authority_to_leave"),
                    "delivery_instructions",
                    ("user_first_name", "user_last_name"),
                    ("user_email", "user_mobile"),
                    ("receiver_language_code", "suppress_communications"),
                ]
            },
        ),
        (
            _("Money and customs"),
            {
                "classes": ["collapse"],
                "fields": [
                    ("shipping_price", "product_currency"),
                    "cash_on_delivery_amount",
                    ("duties", "tax_amount"),
                    ("is_return", "tracking_only"),
                    "features",
                    "customs",
                ],
            },
        ),
        (
            _("Sync"),
            {
                "classes": ["collapse"],
                "fields": [
                    ("last_synced_at", "next_refresh_at"),
                    ("observed_at", "remote_updated_at"),
                    "refresh_failures",
                    "last_error",
                    "data_warnings",
                    "callback_receipts",
                ],
            },
        ),
        (_("Provider payload"), {"classes": ["collapse"], "fields": ["raw_json"]}),
    ]

    class Media:
        css = {"all": ["shipping_orders/admin.css"]}

    # -- read-only -------------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    # -- action permissions ------------------------------------------------------------

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shipping_orders.refresh_order")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shipping_orders.cancel_order")

    def has_book_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shipping_orders.book_order")

    def has_print_label_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shipping_orders.print_label")

    def get_urls(self) -> list[URLPattern]:
        refresh = path(
            "<path:object_id>/refresh/",
            self.admin_site.admin_view(self.refresh_view),
            name="shipping_orders_order_refresh",
        )
        return [refresh, *self.document_urls(), *super().get_urls()]

    def refresh_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The detail page's "Refresh now" button: the refresh action, for one order."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        order = self.get_object(request, object_id)
        if order is None:
            raise Http404
        refresh_from_provider(self, request, self.get_queryset(request).filter(pk=order.pk))
        return redirect("admin:shipping_orders_order_change", order.pk)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        order = self.get_object(request, object_id)
        extra = {
            **(extra_context or {}),
            "can_refresh": self.has_refresh_permission(request),
            "order_summary": self.summary(order) if order is not None else "",
        }
        return super().change_view(request, object_id, form_url, extra)

    # -- columns -----------------------------------------------------------------------

    @admin.display(description=_("order"), ordering="reference")
    def reference_display(self, order: Order) -> str:
        if order.reference:
            head = format_html('<span class="so-ref">{}</span>', order.reference)
        else:
            head = format_html('<span class="so-muted">{}</span>', order.get_placement_display())
        return format_html(
            '{}<br><span class="so-muted">{}</span>', head, order.retailer_reference or "—"
        )

    @admin.display(description=_("receiver"), ordering="receiver_name")
    def receiver(self, order: Order) -> str:
        place = " ".join(part for part in (order.delivery_suburb, order.delivery_postcode) if part)
        return format_html(
            '{}<br><span class="so-muted">{}</span>', order.receiver_name or "—", place
        )

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, order: Order) -> str:
        return state_badge(order.state)

    @admin.display(description=_("courier"), ordering="courier")
    def courier_display(self, order: Order) -> str:
        fallback = order.courier_name or order.courier_allocation
        return couriers.display_name(order.courier, fallback) or "—"

    @admin.display(description=_("courier"), ordering="courier")
    def courier_and_tracking(self, order: Order) -> str:
        if not (order.courier_job_id or order.courier):
            return "—"
        return format_html("{}<br>{}", self.courier_display(order), self.tracking_number(order))

    @admin.display(description=_("tracking number"), ordering="courier_job_id")
    def tracking_number(self, order: Order) -> str:
        if not order.courier_job_id:
            return "—"
        url = safe_web_url(order.tracking_url)
        if not url:
            return order.courier_job_id
        return format_html(
            '<a class="so-track" href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            url,
            order.courier_job_id,
        )

    @admin.display(description=_("pickup (receiver's time)"), ordering="pickup_at")
    def pickup(self, order: Order) -> str:
        if not order.pickup_at:
            return "—"
        return format_html(
            '<span title="{}">{}</span>',
            order.delivery_timezone or _("site time zone"),
            local_time(order.pickup_at, order.delivery_timezone),
        )

    @admin.display(description=_("pickup"), ordering="pickup_at")
    def pickup_column(self, order: Order) -> str:
        """Day over time, in the receiver's zone: narrow enough for a full list."""
        if not order.pickup_at:
            return "—"
        return format_html(
            '<span title="{}">{}<br><span class="so-muted">{}</span></span>',
            _("%s (receiver's time)") % (order.delivery_timezone or _("site time zone")),
            local_time(order.pickup_at, order.delivery_timezone, "D j M"),
            local_time(order.pickup_at, order.delivery_timezone, "H:i T"),
        )

    @admin.display(description=_("label"), ordering="label")
    def label_link(self, order: Order) -> str:
        url = label_url(order) if order.label else ""
        if url:
            return format_html(
                '<a class="so-label" href="{}" target="_blank" title="{}">{} PDF</a>',
                url,
                _("Open the label"),
                DOC_ICON,
            )
        if order.label_url or order.courier_job_id:
            return format_html('<span class="so-muted" title="{}">…</span>', _("Being downloaded"))
        return format_html('<span class="so-muted">{}</span>', "—")

    @admin.display(description=_("synced"), ordering="last_synced_at")
    def last_synced(self, order: Order) -> str:
        if not order.last_synced_at:
            return _("never")
        return format_html(
            '<span title="{}">{}</span>',
            dateformat.format(timezone.localtime(order.last_synced_at), "Y-m-d H:i:s T"),
            _("%s ago") % timesince(order.last_synced_at, depth=1),
        )

    def summary(self, order: Order) -> str:
        """The card on top of the order page: what a clerk looks for first."""
        facts = [
            (_("Courier"), self.courier_display(order)),
            (_("Tracking number"), self.tracking_number(order)),
            (_("Pickup (receiver's time)"), self.pickup(order)),
            (_("Receiver"), self.receiver(order)),
            (_("Label"), self.label_link(order)),
            (_("Last synced"), self.last_synced(order)),
        ]
        return format_html(
            '<div class="so-summary"><div class="so-summary-head">'
            '<span class="so-summary-ref">{}</span>{}<span class="so-muted">{} · {}</span></div>'
            '<dl class="so-facts">{}</dl></div>',
            order.reference or _("not submitted yet"),
            state_badge(order.state),
            order.account,
            order.retailer_reference or "—",
            format_html_join("", "<div><dt>{}</dt><dd>{}</dd></div>", facts),
        )

    # -- detail fields -----------------------------------------------------------------

    expected_delivery = _receiver_time("expected_delivery_at", _("expected delivery"))
    pickup_deadline = _receiver_time("pickup_deadline_at", _("pickup deadline"))
    dropoff = _receiver_time("dropoff_at", _("drop-off"))
    dropoff_deadline = _receiver_time("dropoff_deadline_at", _("drop-off deadline"))

    @admin.display(description=_("delivery address"))
    def address(self, order: Order) -> str:
        lines = [
            order.delivery_company,
            order.delivery_address,
            " ".join(
                p
                for p in (order.delivery_suburb, order.delivery_state, order.delivery_postcode)
                if p
            ),
            order.delivery_country_code,
        ]
        return (
            format_html_join(SafeString("<br>"), "{}", ((line,) for line in lines if line)) or "—"
        )

    @admin.display(description=_("label"))
    def label_preview(self, order: Order) -> str:
        url = label_url(order) if order.label else ""
        if url:
            return format_html(
                '<div class="so-label-box">'
                '<iframe class="so-label-frame" src="{}#view=Fit" title="{}"></iframe>'
                '<p class="so-label-links"><a class="button" href="{}">{}</a> '
                '<a href="{}" target="_blank">{}</a></p></div>',
                url,
                _("Label"),
                label_url(order, download=True),
                _("Download the label"),
                url,
                _("Open in a new tab"),
            )
        if order.label_url or order.courier_job_id:
            return _("The provider has a label; it is being downloaded.")
        return _("No label yet: the provider makes one once a courier is allocated.")

    @admin.display(description=_("shipping price"))
    def shipping_price(self, order: Order) -> str:
        if order.price is None:
            return "—"
        return f"{money(order.price)} {order.price_currency}".strip()

    @admin.display(description=_("manifest"))
    def manifest_link(self, order: Order) -> str:
        if not order.manifest_id:
            return "—"
        url = admin_link("admin:shipping_orders_manifest_change", order.manifest_id)
        text = str(order.manifest)
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    @admin.display(description=_("customs"))
    def customs(self, order: Order) -> str:
        return (
            pretty_json(order.customs_clearance_attributes)
            if order.customs_clearance_attributes
            else "—"
        )

    @admin.display(description=_("callback receipts"))
    def callback_receipts(self, order: Order) -> str:
        receipts = list(order.callback_receipts.order_by("-received_at", "-pk")[:20])
        if not receipts:
            return "—"
        rows = []
        for receipt in receipts:
            url = admin_link("admin:shipping_orders_callbackreceipt_change", receipt.pk)
            when = dateformat.format(timezone.localtime(receipt.received_at), "Y-m-d H:i:s")
            rows.append((url or "#", when, receipt.get_status_display()))
        return format_html(
            '<ul class="so-receipts">{}</ul>',
            format_html_join("", '<li><a href="{}">{}</a> — {}</li>', rows),
        )

    @admin.display(description=_("last payload from the provider"))
    def raw_json(self, order: Order) -> str:
        return pretty_json(order.raw)
