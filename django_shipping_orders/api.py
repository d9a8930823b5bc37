"""The read-only REST API (DRF) and the storefront's public tracking endpoint.

- ``api/orders/`` and ``api/orders/<id>/``: the mirror, for staff by default
  (``SHIPPING_ORDERS["API_PERMISSION_CLASSES"]``). Filters: ``state``,
  ``account``, ``retailer_reference`` (repeat a parameter to match any of
  several values); ``page`` and ``page_size`` paginate.
- ``api/tracking/?retailer_reference=…&token=…``: one order's public tracking
  (state, courier, tracking number and page, pickup time), for whoever holds
  the token the shop put in its e-mail (:func:`tracking_token`). Nothing
  personal is returned, and a wrong reference or token gets the same 404, so
  the endpoint cannot be used to probe which orders exist.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db.models import QuerySet
from rest_framework import generics, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from .conf import shipping_settings
from .models import Order
from .serializers import OrderSerializer, PublicTrackingSerializer

#: Salt of storefront tracking tokens: a signature made for anything else never matches.
TRACKING_TOKEN_SALT = "django_shipping_orders.tracking"

#: Query parameter -> Order field of the list filters.
ORDER_FILTERS = {"state": "state", "account": "account", "retailer_reference": "retailer_reference"}


def _signer() -> signing.Signer:
    return signing.Signer(salt=TRACKING_TOKEN_SALT)


def tracking_token(order: Order) -> str:
    """The token that, with the order's retailer reference, opens its public tracking.

    Put it in the shop's shipping e-mail. It does not expire; rotating
    ``SECRET_KEY`` (keep the old key in ``SECRET_KEY_FALLBACKS`` for a while)
    invalidates every token.
    """
    return _signer().sign(str(order.pk))


def order_for_tracking_token(retailer_reference: str, token: str) -> Order | None:
    """The order ``token`` was made for, if its retailer reference is ``retailer_reference``."""
    try:
        pk = int(_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    order = Order.objects.filter(pk=pk).first()
    if order is None or not retailer_reference or order.retailer_reference != retailer_reference:
        return None
    return order


class OrderPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Mirrored orders with their parcels, products, tracking and label link."""

    serializer_class = OrderSerializer
    pagination_class = OrderPagination

    def get_permissions(self) -> list[BasePermission]:
        # Read on every request, so a changed setting (or override_settings) applies at once.
        return [permission() for permission in shipping_settings.api_permission_classes]

    def get_queryset(self) -> QuerySet[Order]:
        queryset = Order.objects.prefetch_related("parcels", "products").order_by(
            "-created_at", "-pk"
        )
        for param, field in ORDER_FILTERS.items():
            values = [value for value in self.request.query_params.getlist(param) if value != ""]
            if values:
                queryset = queryset.filter(**{f"{field}__in": values})
        return queryset


class TrackingView(generics.GenericAPIView):
    """Public tracking of one order, for the holder of its retailer reference and token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = PublicTrackingSerializer

    def get(self, request: Request) -> Response:
        reference = request.query_params.get("retailer_reference", "")
        token = request.query_params.get("token", "")
        if not reference or not token:
            return Response(
                {"detail": "Give both retailer_reference and token."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        order = order_for_tracking_token(reference, token)
        if order is None:
            return Response(
                {"detail": "No order matches this reference and token."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(self.get_serializer(order).data)


__all__ = ["OrderViewSet", "TrackingView", "order_for_tracking_token", "tracking_token"]
