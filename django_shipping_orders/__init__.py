"""django-shipping-orders: a shipping provider's orders (Shippit, Sender.lv) mirrored in Django."""

__version__ = "0.1.0"
