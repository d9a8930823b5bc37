"""DRF serializers of the read-only orders API and of the storefront's public tracking.

The API is read-only: the mirror is the provider's data, changed only by
``sync.apply_document``. Money and measures are JSON strings (DRF's exact
decimals), times are ISO 8601 with their offset.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Order, Parcel, Product
from .utils import safe_web_url


class ParcelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Parcel
        fields = ["position", "qty", "length", "width", "depth", "weight", "label_number"]


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "position",
            "title",
            "sku",
            "quantity",
            "price",
            "tariff_code",
            "origin_country_code",
            "product_line_id",
            "location",
            "packed",
            "dangerous_goods_code",
            "dangerous_goods_class",
            "dangerous_goods_text",
        ]


class TrackingSerializer(serializers.Serializer):
    """Where the parcel is: courier, the courier's tracking number and page, pickup time."""

    state = serializers.CharField()
    courier = serializers.SerializerMethodField()
    tracking_number = serializers.CharField(source="courier_job_id")
    tracking_url = serializers.SerializerMethodField()
    pickup_at = serializers.DateTimeField(allow_null=True)

    def get_courier(self, order: Order) -> str:
        return order.courier_name or order.courier_allocation

    @extend_schema_field(OpenApiTypes.STR)
    def get_tracking_url(self, order: Order) -> str:
        return safe_web_url(order.tracking_url)


class OrderSerializer(serializers.ModelSerializer):
    """One order with its parcels, products, tracking and a link to the stored label."""

    tracking = TrackingSerializer(source="*", read_only=True)
    # A field named like Field.label (its title): the API has called it so from the start.
    label = serializers.SerializerMethodField()  # type: ignore[assignment]
    parcels = ParcelSerializer(many=True, read_only=True)
    products = ProductSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "account",
            "reference",
            "retailer_reference",
            "retailer_invoice",
            "retailer_order_number",
            "placement",
            "state",
            "state_changed_at",
            "courier_type",
            "courier_allocation",
            "tracking",
            "pickup_at",
            "pickup_deadline_at",
            "dropoff_at",
            "dropoff_deadline_at",
            "expected_delivery_at",
            "receiver_name",
            "receiver_contact_number",
            "delivery_company",
            "delivery_address",
            "delivery_suburb",
            "delivery_state",
            "delivery_postcode",
            "delivery_country_code",
            "delivery_timezone",
            "delivery_instructions",
            "authority_to_leave",
            "user_email",
            "user_first_name",
            "user_last_name",
            "user_mobile",
            "product_currency",
            "cash_on_delivery_amount",
            "duties",
            "tax_amount",
            "is_return",
            "label",
            "label_downloaded_at",
            "booked_at",
            "parcels",
            "products",
            "last_synced_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({**{"type": "string", "format": "uri"}, "nullable": True})
    def get_label(self, order: Order) -> str | None:
        """An absolute link to the stored label (the provider's own URL expires)."""
        if not order.label:
            return None
        try:
            path = reverse("shipping_orders:label", args=[order.pk])
        except NoReverseMatch:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class PublicTrackingSerializer(TrackingSerializer):
    """What a storefront may show to whoever holds the order's link: no personal data."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {
            key: data[key]
            for key in ("state", "courier", "tracking_number", "tracking_url", "pickup_at")
        }


class ErrorSerializer(serializers.Serializer):
    """DRF's error body: what went wrong, in words."""

    detail = serializers.CharField()
