"""The app's configuration: its label, and what ``ready()`` connects (checks, log filters, indexes)."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ShippingOrdersConfig(AppConfig):
    name = "django_shipping_orders"
    label = "shipping_orders"
    verbose_name = _("Shipping orders")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks; nothing here touches the database or settings.
        from . import checks  # noqa: F401
        from .redaction import install_log_filters
        from .trigram import after_migrate

        # Django logs request paths, and a callback URL may carry its secret.
        install_log_filters()

        # PostgreSQL's trigram indexes for the admin search, after each migrate of this app.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="shipping_orders_trigram")
