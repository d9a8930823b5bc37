"""The order page's label documents (the label, customs invoices ...) and the view serving them."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import LabelDocument
from .display import page_url, private_pdf
from .inlines import ReadOnlyInline


class LabelDocumentInline(ReadOnlyInline):
    """The label answer's documents, stored privately when the label was."""

    model = LabelDocument
    fields = readonly_fields = ("kind", "page_size", "file_type", "stored", "downloaded_at")
    verbose_name_plural = _("label documents")

    @admin.display(description=_("file"))
    def stored(self, document: LabelDocument) -> str:
        if not document.file:
            return document.error or "—"
        url = page_url("admin:shipping_orders_order_document", document.order_id)
        if not url:
            return str(_("stored"))
        return format_html(
            '<a href="{}{}/" target="_blank">{}</a>', url, document.pk, _("Open the PDF")
        )


DocumentView = Callable[[HttpRequest, str, int | None], HttpResponseBase]


class LabelDocumentViewMixin:
    """Adds ``<order>/documents/<id>/`` to the order admin: one stored document, to viewers."""

    def document_urls(self, guard: Callable[[DocumentView], DocumentView]) -> list[URLPattern]:
        """The document routes, each view wrapped in ``guard`` (the site's login check)."""
        view = guard(self.document_view)
        return [
            path(
                "<path:object_id>/documents/<int:document_id>/",
                view,
                name="shipping_orders_order_document_file",
            ),
            path("<path:object_id>/documents/", view, name="shipping_orders_order_document"),
        ]

    def document_view(
        self, request: HttpRequest, object_id: str, document_id: int | None = None
    ) -> HttpResponseBase:
        order = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if order is None or document_id is None:
            raise Http404
        if not self.has_view_permission(request, order):  # type: ignore[attr-defined]
            raise PermissionDenied
        document = order.documents.filter(pk=document_id).exclude(file="").first()
        if document is None:
            raise Http404
        return private_pdf(document.file, f"{order.reference or order.pk}-{document.kind}.pdf")
