"""The provider's paperwork kept beside the orders: pickup manifests and label documents.

Both are PDFs behind pre-signed URLs that expire (Shippit's after 7 days), so
they are downloaded as soon as the provider names them, through the same
SSRF-safe download as labels, into the same private storage, and served to
staff only (through the admin).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from .couriers import display_name
from .storage import field_storage


def _storage() -> Any:
    return field_storage()


def _manifest_upload_to(manifest: Manifest, filename: str) -> str:
    return f"shipping_manifests/{manifest.account}/{filename}"


def _document_upload_to(document: LabelDocument, filename: str) -> str:
    return f"shipping_documents/{document.order.account}/{filename}"


class Manifest(models.Model):
    """One courier's answer to a pickup booking (``POST /book`` answers one per courier)."""

    account = models.CharField(_("account"), max_length=64, db_index=True)
    #: Normalised courier key (couriers.normalize) and the name as the provider wrote it.
    courier = models.CharField(_("courier"), max_length=64, blank=True, db_index=True)
    courier_name = models.CharField(_("courier name"), max_length=128, blank=True)
    number = models.CharField(_("manifest number"), max_length=128, blank=True, db_index=True)
    success = models.BooleanField(_("booked"), default=False)
    error = models.CharField(_("error code"), max_length=128, blank=True)
    error_description = models.TextField(_("error"), blank=True)
    #: How many orders the provider says the manifest holds.
    order_count = models.PositiveIntegerField(_("order count"), null=True, blank=True)
    #: The order references this manifest is about: booked ones on success, the
    #: ones the provider refused on failure.
    references = models.JSONField(_("orders"), default=list, blank=True)
    pdf_url = models.URLField(_("provider's PDF URL"), max_length=2000, blank=True)
    pdf = models.FileField(
        _("manifest PDF"),
        upload_to=_manifest_upload_to,
        storage=_storage,
        max_length=255,
        blank=True,
    )
    pdf_error = models.TextField(_("PDF download error"), blank=True)
    raw = models.JSONField(_("provider's answer"), default=dict, blank=True)
    booked_at = models.DateTimeField(_("booked at"), auto_now_add=True, db_index=True)

    class Meta:
        app_label = "shipping_orders"
        verbose_name = _("pickup manifest")
        verbose_name_plural = _("pickup manifests")
        ordering = ["-booked_at", "-pk"]

    def __str__(self) -> str:
        what = self.number or (_("failed booking") if not self.success else _("manifest"))
        return f"{self.courier_display} {what}".strip()

    @property
    def courier_display(self) -> str:
        return display_name(self.courier, self.courier_name)


class LabelDocument(models.Model):
    """One entry of the label answer's ``documents``: the label, a customs invoice, ..."""

    order = models.ForeignKey(
        "shipping_orders.Order", on_delete=models.CASCADE, related_name="documents"
    )
    #: The key in ``documents`` (``label``, ``commercial_invoice``, ``archive_awb`` ...).
    kind = models.CharField(_("kind"), max_length=64)
    page_size = models.CharField(_("page size"), max_length=16, blank=True)
    file_type = models.CharField(_("file type"), max_length=16, blank=True)
    url = models.URLField(_("provider's URL"), max_length=2000, blank=True)
    file = models.FileField(
        _("file"), upload_to=_document_upload_to, storage=_storage, max_length=255, blank=True
    )
    #: Of the stored file: a document equal to the label is not printed twice.
    sha256 = models.CharField(max_length=64, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(_("download error"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "shipping_orders"
        verbose_name = _("label document")
        verbose_name_plural = _("label documents")
        ordering = ["order", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="shipping_document_unique_kind")
        ]

    def __str__(self) -> str:
        return self.kind.replace("_", " ")
