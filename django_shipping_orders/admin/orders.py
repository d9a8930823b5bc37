"""The order admin: the list and the page a shipping clerk looks at every day.

Everything here is read-only: the mirror is the provider's data, and it
changes only through provider calls (the actions) and ``sync.apply_document``.
The list stays as fast at 100 000 orders as at 100: its columns read only the
order row, its filters build their choices without scanning the table, its
count stops at 10 000, its date bar reads two dates, the search looks up
indexed references first, and the counts on top are cached for half a minute
(see ``filters``, ``listing``, ``search`` and ``attention``).

Columns, filters, inlines, display helpers, printing and the other actions
live in the modules beside this one; ``receipts`` registers the callback
receipt admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from ..models import Order
from . import attention, listing, search
from .actions import ORDER_ACTIONS, refresh_from_provider
from .columns import OrderColumns
from .display import ReadOnlyAdminMixin, SelectionGuardMixin
from .documents import LabelDocumentInline, LabelDocumentViewMixin
from .filters import (
    AccountFilter,
    CourierFilter,
    LabelFilter,
    NeedsAttentionFilter,
    PickupFilter,
    StateFilter,
)
from .inlines import OrderEventInline, ParcelInline, ProductInline
from .printing import print_today_view, todays_unprinted

#: Django 5.0+ offers per-filter counts; ours come from the cached strip on top instead.
_NO_FACETS = getattr(getattr(admin, "ShowFacets", None), "NEVER", None)


@admin.register(Order)
class OrderAdmin(
    LabelDocumentViewMixin, SelectionGuardMixin, ReadOnlyAdminMixin, OrderColumns, admin.ModelAdmin
):
    list_display = [
        "reference_display",
        "receiver",
        "state_column",
        "courier_and_tracking",
        "pickup_column",
        "label_link",
    ]
    list_display_links = ["reference_display"]
    list_filter = [
        NeedsAttentionFilter,
        StateFilter,
        LabelFilter,
        PickupFilter,
        CourierFilter,
        AccountFilter,
    ]
    # Shows the search box; ``get_search_results`` (see ``search``) decides what a search finds.
    search_fields = ["receiver_name", "user_email", "delivery_postcode"]
    search_help_text = _(
        "Scan or type references, courier tracking or parcel label numbers (several at once, "
        "separated by spaces or commas), or a receiver's name, e-mail or postcode."
    )
    paginator = listing.BoundedPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
    list_per_page = 50
    if _NO_FACETS is not None:
        show_facets = _NO_FACETS
    actions = ORDER_ACTIONS
    inlines = [ParcelInline, ProductInline, LabelDocumentInline, OrderEventInline]
    change_form_template = "admin/shipping_orders/order/change_form.html"
    change_list_template = "admin/shipping_orders/order/change_list.html"
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
        (
            _("Label"),
            {
                "fields": [
                    "label_preview",
                    ("label_downloaded_at", "label_printed", "booked_at"),
                    "label_error",
                ]
            },
        ),
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
                    ("state_as_of", "data_as_of"),
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
        extra = [
            path(
                "print-today/",
                self.admin_site.admin_view(self.print_today),
                name="shipping_orders_order_print_today",
            ),
            path(
                "<path:object_id>/refresh/",
                self.admin_site.admin_view(self.refresh_view),
                name="shipping_orders_order_refresh",
            ),
        ]
        return [*extra, *self.document_urls(self.admin_site.admin_view), *super().get_urls()]

    def print_today(self, request: HttpRequest) -> HttpResponse:
        """Today's pickups whose labels are not printed yet, on the print confirmation page."""
        if not self.has_print_label_permission(request):
            raise PermissionDenied
        response = print_today_view(self, request)
        return response or redirect("admin:shipping_orders_order_changelist")

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

    # -- the list ------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        words = search.terms(search_term)
        for how, find in (("exact", search.exact), ("prefix", search.prefix)):
            found = find(queryset, words)
            if found is not None:
                request.shipping_search = how  # type: ignore[attr-defined]
                return found, False
        return search.words(queryset, words), False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        query = request.GET.get("q", "")
        if query != search.clean(query):
            # Django's search form refuses a NUL and would then list every order.
            params = request.GET.copy()
            params["q"] = search.clean(query)
            request.GET = params  # type: ignore[assignment]  # the stubs allow only an immutable one
        extra = {**(extra_context or {}), **self._desk_context(request)}
        response = super().changelist_view(request, extra)
        cl = getattr(response, "context_data", {}).get("cl") if response is not None else None
        if (
            request.method == "GET"
            and cl is not None
            and not cl.is_popup  # a chooser window of another admin wants the list
            and getattr(request, "shipping_search", "") == "exact"
            and cl.result_count == 1
        ):
            # A scanned barcode or one pasted reference: straight to the order.
            return redirect("admin:shipping_orders_order_change", cl.result_list[0].pk)
        return response

    def _desk_context(self, request: HttpRequest) -> dict[str, Any]:
        """The strip above the list: needs attention, open orders per state, today's printing."""
        base = reverse("admin:shipping_orders_order_changelist")
        chosen_state = request.GET.get("state")
        desk = {
            "attention_total": attention.counts()["total"],
            "attention_url": f"{base}?attention=any",
            "attention_active": request.GET.get("attention") == "any",
            "states": [
                (state, count, f"{base}?{urlencode({'state': state})}", state == chosen_state)
                for state, count in listing.state_counts()
            ],
            "unprinted_url": f"{base}?label=unprinted",
            "unprinted_active": request.GET.get("label") == "unprinted",
        }
        context: dict[str, Any] = {"desk": desk}
        if self.has_print_label_permission(request):
            count = todays_unprinted(Order.objects.all()).count()
            if count:
                context["print_today_url"] = reverse("admin:shipping_orders_order_print_today")
                context["print_today_count"] = count
        return context
