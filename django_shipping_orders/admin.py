"""Django admin for the mirror: what a shipping clerk looks at every day.

Everything here is read-only: the mirror is the provider's data, and it
changes only through provider calls (the actions) and ``sync.apply_document``.
The changelist shows only columns of the order row, so it runs the same
queries for ten orders as for ten thousand.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from . import admin_callbacks, states  # noqa: F401  (admin_callbacks registers CallbackReceipt)
from .admin_actions import ORDER_ACTIONS, refresh_from_provider
from .models import Order, OrderEvent, Parcel, Product
from .serializers import safe_web_url

#: Badge tone of each known state; unknown states get the neutral tone.
STATE_TONES: dict[str, str] = {
    "processing": "pending",
    "order_placed": "placed",
    "accepted": "placed",
    "despatch_in_progress": "placed",
    "ready_for_pickup": "ready",
    "awaiting_collection": "ready",
    "in_transit": "moving",
    "with_customs": "moving",
    "with_driver": "moving",
    "completed": "done",
    "pickup_failed": "problem",
    "delivery_attempted": "problem",
    "insufficient_address": "problem",
    "cancelled": "stopped",
    "invalidated": "stopped",
    "untrackable": "stopped",
}

_DOC_ICON = SafeString(
    '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><path fill="currentColor" '
    'd="M4 1h5.5L13 4.5V14a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V2a1 1 0 0 1 1-1zm5 1v3h3zM5 8h6v1H5zm0 '
    '2h6v1H5zm0 2h4v1H5z"/></svg>'
)


def state_badge(state: str) -> str:
    """The state as a coloured badge (the raw state string stays in the title)."""
    canonical = states.canonical_state(state)
    tone = STATE_TONES.get(canonical, "unknown")
    text = _humanize(state)
    return format_html(
        '<span class="so-badge so-badge--{}" title="{}">{}</span>', tone, state, text
    )


def _humanize(state: str) -> str:
    return (state or "unknown").replace("_", " ").capitalize()


def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(value: datetime | None, zone_name: str, fmt: str = "D j M, H:i T") -> str:
    """``value`` in the receiver's time zone (the site's when unknown), as text."""
    if value is None:
        return ""
    zone = _zone(zone_name) or timezone.get_current_timezone()
    return dateformat.format(value.astimezone(zone), fmt)


def _admin_link(viewname: str, pk: Any) -> str:
    try:
        return reverse(viewname, args=[pk])
    except NoReverseMatch:
        return ""


def _label_url(order: Order, download: bool = False) -> str:
    try:
        url = reverse("shipping_orders:label", args=[order.pk])
    except NoReverseMatch:
        return ""
    return f"{url}?download=1" if download else url


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
        return [(state, _humanize(state)) for state in ranked]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(state=value) if value is not None else queryset


class CourierFilter(admin.AllValuesFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("courier")


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


class _ReadOnlyInline(admin.TabularInline):
    """Lines of the mirror: shown to whoever may view the order, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("shipping_orders.view_order")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _number(value: Decimal | None) -> str:
    """A stored measure without the padding zeros of its column (0.3000 -> 0.3)."""
    if value is None:
        return "—"
    return format(value.normalize(), "f")


class ParcelInline(_ReadOnlyInline):
    model = Parcel
    fields = readonly_fields = [
        "label_number",
        "qty",
        "length_m",
        "width_m",
        "depth_m",
        "weight_kg",
    ]
    verbose_name_plural = _("parcels")

    @admin.display(description=_("length (m)"))
    def length_m(self, parcel: Parcel) -> str:
        return _number(parcel.length)

    @admin.display(description=_("width (m)"))
    def width_m(self, parcel: Parcel) -> str:
        return _number(parcel.width)

    @admin.display(description=_("depth (m)"))
    def depth_m(self, parcel: Parcel) -> str:
        return _number(parcel.depth)

    @admin.display(description=_("weight (kg)"))
    def weight_kg(self, parcel: Parcel) -> str:
        return _number(parcel.weight)


class ProductInline(_ReadOnlyInline):
    model = Product
    fields = readonly_fields = [
        "title",
        "sku",
        "quantity",
        "unit_price",
        "tariff_code",
        "origin_country_code",
    ]
    verbose_name_plural = _("products")

    @admin.display(description=_("price"))
    def unit_price(self, product: Product) -> str:
        if product.price is None:
            return "—"
        cents = product.price.quantize(Decimal("0.01"))
        text = str(cents) if cents == product.price else _number(product.price)
        return f"{text} {product.order.product_currency}".strip()


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    fields = readonly_fields = ["occurred_at", "change", "source", "receipt_link"]
    verbose_name = _("state change")
    verbose_name_plural = _("state history")

    @admin.display(description=_("change"))
    def change(self, event: OrderEvent) -> str:
        before = state_badge(event.from_state) if event.from_state else "—"
        return format_html(
            "{} <span class='so-arrow'>→</span> {}", before, state_badge(event.to_state)
        )

    @admin.display(description=_("callback"))
    def receipt_link(self, event: OrderEvent) -> str:
        if not event.receipt_id:
            return "—"
        url = _admin_link("admin:shipping_orders_callbackreceipt_change", event.receipt_id)
        text = _("receipt %s") % event.receipt_id
        return format_html('<a href="{}">{}</a>', url, text) if url else text


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
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
        ("courier_allocation", CourierFilter),
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
    inlines = [ParcelInline, ProductInline, OrderEventInline]
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
                    ("courier", "courier_type"),
                    ("tracking_number", "expected_delivery"),
                    ("pickup", "pickup_deadline"),
                    ("dropoff", "dropoff_deadline"),
                ]
            },
        ),
        (_("Label"), {"fields": ["label_preview", ("label_downloaded_at", "booked_at")]}),
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
                    ("product_currency", "cash_on_delivery_amount"),
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
        return [name for fieldset in self.fieldsets for name in _flatten(fieldset[1]["fields"])]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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
        return [refresh, *super().get_urls()]

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

    @admin.display(description=_("courier"), ordering="courier_allocation")
    def courier(self, order: Order) -> str:
        return order.courier_name or order.courier_allocation or "—"

    @admin.display(description=_("courier"), ordering="courier_allocation")
    def courier_and_tracking(self, order: Order) -> str:
        if not (order.courier_job_id or order.courier_name or order.courier_allocation):
            return "—"
        return format_html("{}<br>{}", self.courier(order), self.tracking_number(order))

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
        url = _label_url(order) if order.label else ""
        if url:
            return format_html(
                '<a class="so-label" href="{}" target="_blank" title="{}">{} PDF</a>',
                url,
                _("Open the label"),
                _DOC_ICON,
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
            (_("Courier"), self.courier(order)),
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

    @admin.display(description=_("expected delivery"))
    def expected_delivery(self, order: Order) -> str:
        return local_time(order.expected_delivery_at, order.delivery_timezone) or "—"

    @admin.display(description=_("pickup deadline"))
    def pickup_deadline(self, order: Order) -> str:
        return local_time(order.pickup_deadline_at, order.delivery_timezone) or "—"

    @admin.display(description=_("drop-off"))
    def dropoff(self, order: Order) -> str:
        return local_time(order.dropoff_at, order.delivery_timezone) or "—"

    @admin.display(description=_("drop-off deadline"))
    def dropoff_deadline(self, order: Order) -> str:
        return local_time(order.dropoff_deadline_at, order.delivery_timezone) or "—"

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
        url = _label_url(order) if order.label else ""
        if url:
            return format_html(
                '<div class="so-label-box">'
                '<iframe class="so-label-frame" src="{}#view=Fit" title="{}"></iframe>'
                '<p class="so-label-links"><a class="button" href="{}">{}</a> '
                '<a href="{}" target="_blank">{}</a></p></div>',
                url,
                _("Label"),
                _label_url(order, download=True),
                _("Download the label"),
                url,
                _("Open in a new tab"),
            )
        if order.label_url or order.courier_job_id:
            return _("The provider has a label; it is being downloaded.")
        return _("No label yet: the provider makes one once a courier is allocated.")

    @admin.display(description=_("customs"))
    def customs(self, order: Order) -> str:
        return (
            _pretty(order.customs_clearance_attributes)
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
            url = _admin_link("admin:shipping_orders_callbackreceipt_change", receipt.pk)
            when = dateformat.format(timezone.localtime(receipt.received_at), "Y-m-d H:i:s")
            rows.append((url or "#", when, receipt.get_status_display()))
        return format_html(
            '<ul class="so-receipts">{}</ul>',
            format_html_join("", '<li><a href="{}">{}</a> — {}</li>', rows),
        )

    @admin.display(description=_("last payload from the provider"))
    def raw_json(self, order: Order) -> str:
        return _pretty(order.raw)


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="so-json">{}</pre>', text)


def _flatten(fields: list[Any]) -> list[str]:
    names: list[str] = []
    for item in fields:
        names.extend(item if isinstance(item, tuple | list) else [item])
    return names
