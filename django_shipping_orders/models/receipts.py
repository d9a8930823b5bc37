"""Callback requests as they arrived (``CallbackReceipt``) and the selections made of them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..bounded import storable
from .orders import Order

#: A receipt left ``received`` this long is taken as stuck (its worker died mid-way).
STUCK_AFTER = timedelta(minutes=10)


class CallbackReceiptQuerySet(models.QuerySet["CallbackReceipt"]):
    def reprocessable(
        self,
        *,
        failed: bool = False,
        ids: Iterable[int] | None = None,
        since: datetime | None = None,
        account: str | None = None,
        now: datetime | None = None,
    ) -> CallbackReceiptQuerySet:
        """Receipts matching every given filter, oldest first; rejected ones are never included.

        ``failed`` means failed receipts and receipts stuck in ``received``
        (their worker died before recording an outcome).
        """
        Status = CallbackReceipt.Status
        queryset = self.exclude(status=Status.REJECTED)
        if failed:
            stuck_before = (now or timezone.now()) - STUCK_AFTER
            queryset = queryset.filter(
                Q(status=Status.FAILED) | Q(status=Status.RECEIVED, received_at__lt=stuck_before)
            )
        if ids is not None:
            queryset = queryset.filter(pk__in=list(ids))
        if since is not None:
            queryset = queryset.filter(received_at__gte=since)
        if account:
            queryset = queryset.filter(account=account)
        return queryset.order_by("received_at", "pk")

    def prunable(
        self, older_than: datetime, *, include_failed: bool = False
    ) -> CallbackReceiptQuerySet:
        """Receipts received before ``older_than``; failed and unprocessed ones only when asked."""
        queryset = self.filter(received_at__lt=older_than)
        if not include_failed:
            queryset = queryset.exclude(
                status__in=[CallbackReceipt.Status.FAILED, CallbackReceipt.Status.RECEIVED]
            )
        return queryset


class CallbackReceipt(models.Model):
    """A callback request as it arrived, saved before anything else is done with it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, not processed yet")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored (duplicate, stale or not an order)")
        FAILED = "failed", _("Failed: can be reprocessed")
        UNPROCESSABLE = "unprocessable", _("Unprocessable: the body can never be applied")
        REJECTED = "rejected", _("Rejected: not authenticated")

    account = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.BinaryField()
    content_type = models.CharField(max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    dedupe_key = models.CharField(max_length=64, blank=True, db_index=True)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="callback_receipts"
    )
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    #: The body was larger than ``CALLBACK_MAX_BYTES``: only its start is kept.
    truncated = models.BooleanField(default=False)
    #: A receipt left ``received`` by a transient database error waits until then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    objects = CallbackReceiptQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The look for a processed duplicate runs with every callback: three equalities
            # on one index, so no planner walks every processed receipt instead.
            models.Index(
                fields=["account", "dedupe_key", "status"], name="shipping_receipt_duplicates"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} callback {self.pk} ({self.status})"

    def payload(self) -> Any:
        """The body parsed as JSON (numbers with fractions as Decimal)."""
        from ..documents import loads

        return loads(bytes(self.body))

    def pretty_body(self) -> str:
        """The body as indented JSON for staff, or as text when it is not JSON."""
        try:
            text = json.dumps(json.loads(bytes(self.body)), indent=2, ensure_ascii=False)
            return storable(text)  # a lone surrogate (``"\\ud800"``) cannot be sent as UTF-8
        except (ValueError, RecursionError):  # not JSON, or nested too deep to read back
            return bytes(self.body).decode("utf-8", "replace")
