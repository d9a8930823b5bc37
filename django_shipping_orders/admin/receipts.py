"""Django admin for callback receipts: read-only, with a "process again" action.

A receipt is evidence of what a provider sent, so nobody edits it; staff can
read the body and the (redacted) headers, see why a receipt failed, and
process failed ones again once the cause is fixed. Reprocessing needs the
"Can change callback receipt" permission.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..callbacks.reprocessing import reprocess
from ..models import CallbackReceipt
from .display import (
    ReadOnlyAdminMixin,
    SelectionGuardMixin,
    badge,
    page_url,
    preformatted,
    pretty_json,
)

Status = CallbackReceipt.Status

#: Badge tone of each status, sharing the order admin's badge styles.
_STATUS_TONES: dict[str, str] = {
    Status.RECEIVED: "pending",
    Status.PROCESSED: "done",
    Status.IGNORED: "stopped",
    Status.FAILED: "problem",
    Status.UNPROCESSABLE: "problem",
    Status.REJECTED: "problem",
}


class CallbackReceiptAdmin(SelectionGuardMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    allow_delete = True
    list_display = ["id", "account", "received_at", "status_display", "reference_link", "attempts"]
    list_display_links = ["id"]
    list_filter = ["status", "account", "received_at"]
    search_fields = ["=reference", "=dedupe_key", "=id"]
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-pk"]
    list_per_page = 100
    actions = ["reprocess"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "account",
                    "status_display",
                    "reference_link",
                    "received_at",
                    "processed_at",
                    "attempts",
                ]
            },
        ),
        (_("Outcome"), {"fields": ["error", "traceback_display"]}),
        (
            _("Request"),
            {
                "fields": [
                    "remote_addr",
                    "content_type",
                    "dedupe_key",
                    "headers_display",
                    "body_display",
                ]
            },
        ),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    class Media:
        css = {"all": ["shipping_orders/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[CallbackReceipt]:
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match and (match.url_name or "").endswith("_changelist"):
            # The list shows none of these, and a body can be a megabyte.
            queryset = queryset.defer("body", "headers", "traceback")
        return queryset

    # -- read-only ---------------------------------------------------------------------

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    # -- columns -----------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, receipt: CallbackReceipt) -> str:
        tone = _STATUS_TONES.get(receipt.status, "unknown")
        return badge(tone, receipt.get_status_display(), receipt.status)

    @admin.display(description=_("order"), ordering="reference")
    def reference_link(self, receipt: CallbackReceipt) -> str:
        text = receipt.reference or "—"
        if not receipt.order_id:
            return text
        url = page_url("admin:shipping_orders_order_change", receipt.order_id)
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    @admin.display(description=_("body"))
    def body_display(self, receipt: CallbackReceipt) -> str:
        return preformatted(receipt.pretty_body())

    @admin.display(description=_("headers (secrets redacted)"))
    def headers_display(self, receipt: CallbackReceipt) -> str:
        return pretty_json(receipt.headers)

    @admin.display(description=_("traceback"))
    def traceback_display(self, receipt: CallbackReceipt) -> str:
        if not receipt.traceback:
            return "—"
        return preformatted(receipt.traceback)

    # -- actions -----------------------------------------------------------------------

    @admin.action(description=_("Process the selected callbacks again"), permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[CallbackReceipt]) -> None:
        report = reprocess(queryset.values_list("pk", flat=True))
        for receipt, reason in report.failed:
            self.message_user(
                request,
                _("Receipt %(pk)s (%(reference)s) failed again: %(error)s")
                % {
                    "pk": receipt.pk,
                    "reference": receipt.reference or "no reference",
                    "error": reason,
                },
                messages.ERROR,
            )
        for pk, status, reason in report.outcomes:
            if status == Status.UNPROCESSABLE:
                self.message_user(
                    request,
                    _("Receipt %(pk)s can never be processed: %(error)s")
                    % {"pk": pk, "error": reason},
                    messages.WARNING,
                )
        skipped = len(report.skipped)
        done = report.processed + report.ignored
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d callback processed (%(processed)d applied, %(ignored)d ignored).",
                    "%(count)d callbacks processed (%(processed)d applied, %(ignored)d ignored).",
                    done,
                )
                % {
                    "count": done,
                    "processed": report.processed,
                    "ignored": report.ignored,
                },
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d rejected (unauthenticated) callback skipped: it is never processed.",
                    "%(count)d rejected (unauthenticated) callbacks skipped: they are never processed.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


admin.site.register(CallbackReceipt, CallbackReceiptAdmin)
