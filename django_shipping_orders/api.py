"""The read-only REST API (DRF) and the storefront's public tracking endpoint.

- ``api/orders/`` and ``api/orders/<id>/``: the mirror, for staff by default
  (``SHIPPING_ORDERS["API_PERMISSION_CLASSES"]``). Filters: ``state``,
  ``account``, ``retailer_reference`` (repeat a parameter to match any of
  several values); ``page`` and ``page_size`` paginate.
- ``api/tracking/?retailer_reference=…&token=…``: one order's public tracking
  (state, courier, tracking number and page, pickup time), for whoever holds
  the token the shop put in its e-mail (:func:`tracking_token`). Nothing
  personal is returned, and a wrong reference or token gets the same 404, so
  the endpoint cannot be used to probe which orders exist. It has a throttle
  of its own (:class:`TrackingThrottle`), whatever the project's DRF settings.
- ``api/schema/``: the OpenAPI 3 schema of both (see :mod:`.schema`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.core import signing
from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from .conf import shipping_settings
from .models import Order
from .serializers import ErrorSerializer, OrderSerializer, PublicTrackingSerializer

_M = TypeVar("_M", bound=Model)
_Row = TypeVar("_Row")

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


#: The tracking endpoint's rate per client address unless ``DEFAULT_THROTTLE_RATES`` names one.
TRACKING_RATE = "30/min"
#: Longest value of a list filter; longer ones cannot match a column.
_MAX_FILTER_LENGTH = 255
#: Largest order id the database can hold (a bigger one cannot exist: 404, not an overflow).
_MAX_ID = 2**63 - 1


class TrackingThrottle(SimpleRateThrottle):
    """Requests per minute to the tracking endpoint, per client address.

    Scope ``shipping_tracking``: set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    ["shipping_tracking"]`` to change the rate (default ``TRACKING_RATE``). Counted
    in Django's default cache, like every DRF throttle.
    """

    scope = "shipping_tracking"

    def get_rate(self) -> str:
        # Read on every request (DRF's class attribute is read once, at import).
        return str(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or TRACKING_RATE)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OrderPagination(PageNumberPagination):
    """Pages of 50 (``page_size`` up to 500); a page or size that is not a number is a 400."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(
        self,
        queryset: QuerySet[_M, _Row] | Sequence[_Row],
        request: Request,
        view: APIView | None = None,
    ) -> list[_Row] | None:
        # DRF would quietly use the defaults; a client asking for page "two" should hear why not.
        for name in (self.page_query_param, self.page_size_query_param):
            values = request.query_params.getlist(name)
            if len(values) > 1 or not all(v.isdigit() and int(v) >= 1 for v in values):
                raise ParseError(f"{name} must be one whole number of 1 or more.")
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], "minimum": 1}
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Orders per page: {self.page_size} unless given, at most {self.max_page_size} "
                    "(a larger number gives that many)."
                )
        return parameters


_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No credentials (Basic authentication)."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed (see API_PERMISSION_CLASSES)."),
    404: OpenApiResponse(ErrorSerializer, description="No such order, or no such page."),
}
_LIST_FILTERS = [
    OpenApiParameter(
        param,
        str,
        many=True,
        explode=True,
        description=f"Only orders whose {field} is one of these (repeat to give several).",
    )
    for param, field in ORDER_FILTERS.items()
]


def documented(**kwargs: Any) -> Any:
    """drf-spectacular's ``extend_schema`` for a view method, whatever the project's settings.

    ``extend_schema`` builds on the schema class it finds on the method, else on
    ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``, which a project need not point at
    drf-spectacular: name drf-spectacular's on the method first.
    """

    def decorate(method: Any) -> Any:
        method.schema = AutoSchema
        return extend_schema(**kwargs)(method)

    return decorate


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Mirrored orders with their parcels, products, tracking and label link."""

    schema = AutoSchema()
    serializer_class = OrderSerializer
    pagination_class = OrderPagination

    @documented(
        summary="Mirrored orders, newest first",
        parameters=_LIST_FILTERS,
        responses={
            200: OrderSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="A filter value is unusable."),
            **_ERRORS,
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @documented(
        summary="One mirrored order",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Its id.")],
        responses={200: OrderSerializer, **_ERRORS},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def get_permissions(self) -> Sequence[BasePermission]:
        # Read on every request, so a changed setting (or override_settings) applies at once.
        return [permission() for permission in shipping_settings.api_permission_classes]

    def get_queryset(self) -> QuerySet[Order]:
        queryset = Order.objects.prefetch_related("parcels", "products").order_by(
            "-created_at", "-pk"
        )
        for param, field in ORDER_FILTERS.items():
            values = [value for value in self.request.query_params.getlist(param) if value != ""]
            # A value no column can hold matches no order: PostgreSQL would refuse a NUL
            # character with an error (a 500), and an over-long value cannot be equal.
            values = [v for v in values if "\x00" not in v and len(v) <= _MAX_FILTER_LENGTH]
            if values or self.request.query_params.getlist(param):
                queryset = queryset.filter(**{f"{field}__in": values})
        return queryset

    def get_object(self) -> Order:
        pk = str(self.kwargs.get("pk", ""))
        # Only ids the database can hold: "-1", "abc" or 2**70 are simply not found.
        if not pk.isdigit() or int(pk) > _MAX_ID:
            raise Http404("No such order.")
        return super().get_object()


class TrackingView(generics.GenericAPIView):
    """Public tracking of one order, for the holder of its retailer reference and token."""

    schema = AutoSchema()
    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes = [AllowAny]
    throttle_classes = [TrackingThrottle]
    serializer_class = PublicTrackingSerializer

    @documented(
        summary="Public tracking of one order",
        parameters=[
            OpenApiParameter(
                "retailer_reference",
                {"type": "string", "minLength": 1},
                required=True,
                description="The shop's order number.",
            ),
            OpenApiParameter(
                "token",
                {"type": "string", "minLength": 1},
                required=True,
                description="From api.tracking_token(order).",
            ),
        ],
        responses={
            200: PublicTrackingSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A parameter is missing."),
            404: OpenApiResponse(
                ErrorSerializer, description="No order matches this reference and token."
            ),
            429: OpenApiResponse(
                ErrorSerializer, description="Too many requests from this address; see Retry-After."
            ),
        },
        auth=[],
    )
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


__all__ = [
    "OrderViewSet",
    "TrackingThrottle",
    "TrackingView",
    "order_for_tracking_token",
    "tracking_token",
]
