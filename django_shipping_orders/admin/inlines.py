"""The order page's read-only tables: parcels, products and the state history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import OrderEvent, Parcel, Product
from .display import ReadOnlyAdminMixin, badge, number, page_url, state_badge


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Lines of the mirror: shown to whoever may view the order, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("shipping_orders.view_order")


class ParcelInline(ReadOnlyInline):
    model = Parcel
    fields = readonly_fields = (
        "label_number",
        "qty",
        "length_m",
        "width_m",
        "depth_m",
        "weight_kg",
    )
    verbose_name_plural = _("parcels")

    @admin.display(description=_("length (m)"))
    def length_m(self, parcel: Parcel) -> str:
        return number(parcel.length)

    @admin.display(description=_("width (m)"))
    def width_m(self, parcel: Parcel) -> str:
        return number(parcel.width)

    @admin.display(description=_("depth (m)"))
    def depth_m(self, parcel: Parcel) -> str:
        return number(parcel.depth)

    @admin.display(description=_("weight (kg)"))
    def weight_kg(self, parcel: Parcel) -> str:
        return number(parcel.weight)


class ProductInline(ReadOnlyInline):
    model = Product
    fields = readonly_fields = (
        "title",
        "sku",
        "quantity",
        "shipped",
        "unit_price",
        "tariff_code",
        "origin_country_code",
    )
    verbose_name_plural = _("products")

    @admin.display(description=_("shipped"))
    def shipped(self, product: Product) -> str:
        """What the provider's webhook says shipped; a short shipment stands out."""
        if product.quantity_shipped is None:
            return "—"
        if product.quantity is None:
            return str(product.quantity_shipped)
        text = f"{product.quantity_shipped} of {product.quantity}"
        if product.partly_shipped:
            return badge("problem", str(_("Partly shipped")), text)
        return text

    @admin.display(description=_("price"))
    def unit_price(self, product: Product) -> str:
        if product.price is None:
            return "—"
        cents = product.price.quantize(Decimal("0.01"))
        text = str(cents) if cents == product.price else number(product.price)
        return f"{text} {product.order.product_currency}".strip()


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = readonly_fields = ("occurred_at", "change", "source", "receipt_link")
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
        url = page_url("admin:shipping_orders_callbackreceipt_change", event.receipt_id)
        text = _("receipt %s") % event.receipt_id
        return format_html('<a href="{}">{}</a>', url, text) if url else text
