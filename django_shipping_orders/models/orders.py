"""The order as mirrored from its provider, with our bookkeeping of it, and its selections.

Mirrored fields carry the provider's own names (``courier_allocation``,
``delivery_postcode`` ...) so the payload and the row read alike. They are
written only by ``sync.apply_document``; everything else about an order
(bookkeeping of refreshes, placing, labels) is named as such.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import states
from ..conf import shipping_settings
from ..storage import field_storage
from .encoding import PayloadEncoder


def _label_storage() -> Any:
    return field_storage()


def _label_upload_to(order: Order, filename: str) -> str:
    return f"shipping_labels/{order.account}/{filename}"


class OrderQuerySet(models.QuerySet["Order"]):
    def open(self) -> OrderQuerySet:
        """Orders that may still change (not in a terminal state)."""
        return self.exclude(state__in=states.FINAL_STATES)

    def for_account(self, alias: str) -> OrderQuerySet:
        return self.filter(account=alias)

    def due(self, account: str | None = None, *, now: datetime | None = None) -> OrderQuerySet:
        """Orders due for a refresh now and not leased, oldest due first (configured accounts only)."""
        now = now or timezone.now()
        return (
            self.due_leased_or_not(account, now=now)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .order_by("next_refresh_at", "pk")
        )

    def due_leased_or_not(
        self, account: str | None = None, *, now: datetime | None = None
    ) -> OrderQuerySet:
        """Orders due for a refresh now, whether a worker holds them or not (configured
        accounts only): :meth:`due` without the lease."""
        now = now or timezone.now()
        aliases = [account] if account else shipping_settings.account_aliases
        return self.filter(
            account__in=aliases, next_refresh_at__lte=now, reference__isnull=False
        ).exclude(state__in=states.FINAL_STATES)


class Order(models.Model):
    class Placement(models.TextChoices):
        REMOTE = "remote", _("Known from the provider")
        PENDING = "pending", _("Being submitted")
        SUBMITTED = "submitted", _("Submitted")
        UNKNOWN = "unknown", _("Submission outcome unknown: check with the provider")
        REJECTED = "rejected", _("Rejected by the provider")

    # -- identity ------------------------------------------------------------------------
    account = models.CharField(_("account"), max_length=64, db_index=True)
    # The provider's order reference (Shippit tracking_number, Sender.lv order_reference).
    # NULL while an order we are placing has no answer yet: NULLs never collide in
    # the unique constraint below, on every supported database.
    # db_index: search by reference alone (the unique key leads with the account); on
    # PostgreSQL it also gets a pattern index for prefix search.
    reference = models.CharField(  # noqa: DJ001
        _("reference"), max_length=64, null=True, blank=True, db_index=True
    )
    submission_id = models.UUIDField(
        _("submission id"), default=uuid.uuid4, unique=True, editable=False
    )
    placement = models.CharField(
        _("placement"),
        max_length=16,
        choices=Placement.choices,
        default=Placement.REMOTE,
        db_index=True,  # "needs attention": the few unknown and rejected placements
    )

    # -- mirrored from the Get Order document (the provider's names) ------------------------
    state = models.CharField(_("state"), max_length=64, blank=True, db_index=True)
    authority_to_leave = models.CharField(max_length=32, blank=True)
    cash_on_delivery_amount = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True
    )
    courier_type = models.CharField(max_length=64, blank=True)
    courier_allocation = models.CharField(max_length=128, blank=True, db_index=True)
    receiver_contact_number = models.CharField(max_length=64, blank=True)
    receiver_name = models.CharField(max_length=255, blank=True)
    receiver_language_code = models.CharField(max_length=16, blank=True)
    retailer_invoice = models.CharField(max_length=255, blank=True)
    retailer_reference = models.CharField(max_length=255, blank=True, db_index=True)
    product_currency = models.CharField(max_length=8, blank=True)
    suppress_communications = models.BooleanField(default=False)
    tracking_only = models.BooleanField(default=False)
    features = models.JSONField(default=list, blank=True, encoder=PayloadEncoder)
    description = models.TextField(blank=True)
    duties = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    tax_amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    customs_clearance_attributes = models.JSONField(
        default=dict, blank=True, encoder=PayloadEncoder
    )
    is_return = models.BooleanField(_("return"), default=False)
    pickup_at = models.DateTimeField(null=True, blank=True, db_index=True)
    pickup_deadline_at = models.DateTimeField(null=True, blank=True)
    dropoff_at = models.DateTimeField(null=True, blank=True)
    dropoff_deadline_at = models.DateTimeField(null=True, blank=True)
    delivery_company = models.CharField(max_length=255, blank=True)
    delivery_address = models.CharField(max_length=255, blank=True)
    delivery_suburb = models.CharField(max_length=128, blank=True)
    delivery_state = models.CharField(max_length=64, blank=True)
    delivery_postcode = models.CharField(max_length=32, blank=True, db_index=True)
    delivery_country_code = models.CharField(max_length=8, blank=True)
    delivery_timezone = models.CharField(max_length=64, blank=True)
    delivery_instructions = models.TextField(blank=True)
    user_email = models.CharField(max_length=254, blank=True)
    user_first_name = models.CharField(max_length=128, blank=True)
    user_last_name = models.CharField(max_length=128, blank=True)
    user_mobile = models.CharField(max_length=64, blank=True)

    # -- mirrored from the label endpoint and the webhook ---------------------------------
    courier_job_id = models.CharField(
        _("courier tracking number"), max_length=128, blank=True, db_index=True
    )
    courier_name = models.CharField(max_length=128, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    label_url = models.URLField(max_length=2000, blank=True)
    retailer_order_number = models.CharField(max_length=255, blank=True)
    expected_delivery_at = models.DateTimeField(null=True, blank=True)
    # The charge for shipping (Shippit's "price"), in the account's currency.
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=4, null=True, blank=True)
    price_currency = models.CharField(_("price currency"), max_length=8, blank=True)
    # One courier key whichever field named it (courier_allocation or courier_name):
    # "CouriersPlease" and "Couriers Please" are both "couriersplease" (see couriers.py).
    courier = models.CharField(_("courier"), max_length=64, blank=True, db_index=True)

    # -- what we know about the data ------------------------------------------------------
    raw = models.JSONField(_("last full payload"), default=dict, blank=True, encoder=PayloadEncoder)
    # The order clock (docs/callbacks.md): only a document newer than these changes the row.
    state_as_of = models.DateTimeField(
        _("state known true at"),
        null=True,
        blank=True,
        help_text=_(
            "The instant the stored state was last known true: a poll's request time, a "
            "webhook's newest status time, a callback's arrival."
        ),
    )
    data_as_of = models.DateTimeField(
        _("details known true at"),
        null=True,
        blank=True,
        help_text=_("The same instant for the other mirrored fields, parcels and products."),
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    #: Digests of the parcels and products the lines were last written from ("" unknown):
    #: a document listing the same lines again changes no line and reads none.
    parcels_digest = models.CharField(max_length=32, blank=True, editable=False)
    products_digest = models.CharField(max_length=32, blank=True, editable=False)

    # -- refresh bookkeeping ----------------------------------------------------------------
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    refresh_failures = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    #: What the provider sent that could not be stored (a price no column holds, a
    #: currency that is not one): the values stay in ``raw``; a clean full document clears it.
    data_warnings = models.TextField(_("data warnings"), blank=True)

    # -- the label, stored locally because provider URLs expire ----------------------------
    label = models.FileField(
        upload_to=_label_upload_to, storage=_label_storage, max_length=255, blank=True
    )
    label_downloaded_at = models.DateTimeField(null=True, blank=True)
    #: Why the last label download failed ("" once a label is stored).
    label_error = models.TextField(_("label download error"), blank=True)
    label_printed_at = models.DateTimeField(_("label printed at"), null=True, blank=True)
    #: The username of whoever printed it (kept as text: the record outlives the account).
    label_printed_by = models.CharField(_("label printed by"), max_length=150, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True)
    manifest = models.ForeignKey(
        "shipping_orders.Manifest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("manifest"),
    )
    booking_error = models.TextField(_("booking error"), blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("shipping order")
        verbose_name_plural = _("shipping orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "reference"], name="shipping_order_unique_reference"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "state"], name="shipping_order_account_state"),
            # The refresh engine's claim: an account's due orders, oldest due first,
            # read in index order instead of sorting every order of the account.
            models.Index(fields=["account", "next_refresh_at"], name="shipping_order_account_due"),
        ]
        permissions = [
            ("refresh_order", _("Can refresh shipping orders from the provider")),
            ("cancel_order", _("Can cancel shipping orders at the provider")),
            ("book_order", _("Can book shipping orders for pickup")),
            ("print_label", _("Can print shipping labels")),
        ]

    def __str__(self) -> str:
        if self.reference:
            return f"{self.account}:{self.reference}"
        # Not placed (yet): the shop's own reference is what people know it by.
        return f"{self.account}:{self.retailer_reference or self.submission_id} (not placed)"

    @property
    def is_final(self) -> bool:
        return states.is_final(self.state)

    is_terminal = is_final  # the first release's name

    @property
    def needs_attention(self) -> bool:
        return states.needs_attention(self.state)

    @property
    def has_label(self) -> bool:
        return bool(self.label)
