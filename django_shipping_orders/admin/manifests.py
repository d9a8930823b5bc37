"""Django admin for pickup manifests: what each booking answered, its PDF, its orders.

Read-only like the rest of the mirror: manifests are made by booking orders
(the order admin's "Book for pickup" action, ``services.book_orders``).
The PDF is served from private storage to whoever may view manifests.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..models import Manifest
from .display import (
    DOC_ICON,
    ReadOnlyAdminMixin,
    SelectionGuardMixin,
    badge,
    page_url,
    pretty_json,
    private_pdf,
)


@admin.register(Manifest)
class ManifestAdmin(SelectionGuardMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "booked_at",
        "account",
        "courier_column",
        "number",
        "outcome",
        "order_count",
        "pdf_link",
    ]
    list_display_links = ["booked_at"]
    list_filter = ["success", "account", "courier", "booked_at"]
    search_fields = ["=number", "courier_name"]
    date_hierarchy = "booked_at"
    ordering = ["-booked_at", "-pk"]
    list_per_page = 100
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("account", "booked_at"),
                    ("courier_column", "number"),
                    ("outcome", "order_count"),
                    "error_description",
                    "pdf_link",
                    "pdf_error",
                ]
            },
        ),
        (_("Orders"), {"fields": ["order_links"]}),
        (_("Provider's answer"), {"classes": ["collapse"], "fields": ["raw_json"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    class Media:
        css = {"all": ["shipping_orders/admin.css"]}

    def get_urls(self) -> list[URLPattern]:
        pdf = path(
            "<path:object_id>/pdf/",
            self.admin_site.admin_view(self.pdf_view),
            name="shipping_orders_manifest_pdf",
        )
        return [pdf, *super().get_urls()]

    def pdf_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        manifest = self.get_object(request, object_id)
        if manifest is None:
            raise Http404
        if not self.has_view_permission(request, manifest):
            raise PermissionDenied
        if not manifest.pdf:
            raise Http404
        return private_pdf(manifest.pdf, f"manifest-{manifest.number or manifest.pk}.pdf")

    @admin.display(description=_("courier"), ordering="courier")
    def courier_column(self, manifest: Manifest) -> str:
        return manifest.courier_display or "—"

    @admin.display(description=_("outcome"), ordering="success")
    def outcome(self, manifest: Manifest) -> str:
        if manifest.success:
            return badge("done", str(_("Booked")), str(_("booked")))
        return badge("problem", manifest.error or str(_("failed")), str(_("failed")))

    @admin.display(description=_("PDF"))
    def pdf_link(self, manifest: Manifest) -> str:
        if not manifest.pdf:
            return "—"
        url = reverse("admin:shipping_orders_manifest_pdf", args=[manifest.pk])
        return format_html('<a href="{}" target="_blank">{} PDF</a>', url, DOC_ICON)

    @admin.display(description=_("orders"))
    def order_links(self, manifest: Manifest) -> str:
        """Booked orders link to their page; refused ones are listed as the provider named them."""
        rows = [
            (page_url("admin:shipping_orders_order_change", order.pk) or "#", order.reference)
            for order in manifest.orders.order_by("reference")
        ]
        linked = {reference for _url, reference in rows}
        named = [ref for ref in manifest.references if ref not in linked]
        parts = []
        if rows:
            parts.append(
                format_html(
                    '<ul class="so-receipts">{}</ul>',
                    format_html_join("", '<li><a href="{}">{}</a></li>', rows),
                )
            )
        if named:
            title = _("Booked") if manifest.success else _("Not booked")
            parts.append(format_html("<p>{}: {}</p>", title, ", ".join(named)))
        return format_html_join("", "{}", ((part,) for part in parts)) or "—"

    @admin.display(description=_("provider's answer"))
    def raw_json(self, manifest: Manifest) -> str:
        return pretty_json(manifest.raw)
