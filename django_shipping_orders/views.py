"""Label pages: serve stored label PDFs to staff who may view shipping orders.

Labels carry names and addresses, so they never sit behind a public media
URL: this view checks the user on every request. It answers ``inline`` so the
admin can embed the label, and may be framed by pages of the same site only.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_safe

from .models import Order

VIEW_PERMISSION = "shipping_orders.view_order"


def can_view_labels(user: object) -> bool:
    """True for active staff with the view permission on shipping orders."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(VIEW_PERMISSION)  # type: ignore[attr-defined]
    )


@require_safe
@xframe_options_sameorigin
def label_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The stored label of order ``pk``; ``?download=1`` asks the browser to save it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    if not can_view_labels(request.user):
        raise PermissionDenied("You may not view shipping labels.")
    order = get_object_or_404(Order, pk=pk)
    if not order.label:
        raise Http404("This order has no stored label.")
    try:
        handle = order.label.open("rb")
    except FileNotFoundError:
        raise Http404("The stored label file is missing.") from None
    response = FileResponse(
        handle,
        content_type="application/pdf",
        as_attachment=request.GET.get("download") == "1",
        filename=f"label-{order.reference or order.pk}.pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _login_url() -> str | None:
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return None  # settings.LOGIN_URL


def __getattr__(name: str) -> object:
    # The callback endpoint lived here before it moved to ``callbacks.views``.
    if name == "CallbackView":
        from .callbacks.views import CallbackView

        return CallbackView
    raise AttributeError(name)
