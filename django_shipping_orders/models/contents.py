"""What an order holds: its parcels and its products, one row per line of the document."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .encoding import PayloadEncoder
from .orders import Order


class Parcel(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="parcels")
    position = models.PositiveIntegerField()
    qty = models.IntegerField(null=True, blank=True)
    length = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    width = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    depth = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    weight = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    label_number = models.CharField(max_length=128, blank=True, db_index=True)
    raw = models.JSONField(default=dict, blank=True, encoder=PayloadEncoder)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "position"], name="shipping_parcel_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return self.label_number or f"parcel {self.position + 1}"


class Product(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="products")
    position = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    tariff_code = models.CharField(max_length=32, blank=True)
    quantity = models.IntegerField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True)
    sku = models.CharField(max_length=128, blank=True)
    dangerous_goods_code = models.CharField(max_length=32, blank=True)
    dangerous_goods_text = models.CharField(max_length=255, blank=True)
    origin_country_code = models.CharField(max_length=8, blank=True)
    product_line_id = models.CharField(max_length=128, blank=True)
    location = models.CharField(max_length=128, blank=True)
    dangerous_goods_class = models.CharField(max_length=32, blank=True)
    packed = models.IntegerField(null=True, blank=True)
    #: How many of this line the provider says shipped (a webhook's ``products``);
    #: None until it says so.
    quantity_shipped = models.IntegerField(_("quantity shipped"), null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, encoder=PayloadEncoder)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "position"], name="shipping_product_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.sku or f"product {self.position + 1}"

    @property
    def partly_shipped(self) -> bool:
        """True when fewer than ordered shipped (the rest is still to come, or never)."""
        return (
            self.quantity_shipped is not None
            and self.quantity is not None
            and self.quantity_shipped < self.quantity
        )
