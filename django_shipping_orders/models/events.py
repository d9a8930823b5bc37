"""An order's state history: one ``OrderEvent`` per change, and the ``Source`` of the data."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .orders import Order


class Source(models.TextChoices):
    """Where a piece of order data came from."""

    CALLBACK = "callback", _("Callback")
    REFRESH = "refresh", _("Refresh")
    PLACE = "place", _("Placed")
    CANCEL = "cancel", _("Cancelled")
    ADMIN = "admin", _("Admin")
    COMMAND = "command", _("Command")
    LABEL = "label", _("Label answer")


class OrderEvent(models.Model):
    """One change of state, as the mirror saw it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=64, blank=True)
    to_state = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices)
    occurred_at = models.DateTimeField(
        help_text=_("The provider's time of the change when it gave one, else when we saw it.")
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    receipt = models.ForeignKey(
        "CallbackReceipt", on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )

    class Meta:
        ordering = ["order", "-occurred_at", "-pk"]
        indexes = [models.Index(fields=["order", "occurred_at"], name="shipping_event_order_time")]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state}"
