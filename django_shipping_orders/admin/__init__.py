"""Registers the admin of the mirror: orders, pickup manifests and callback receipts.

``orders`` registers the order admin, ``manifests`` the pickup manifests and
``receipts`` the callback log;
``actions``, ``display``, ``filters`` and ``inlines`` are their parts.
Everything is read-only: the mirror changes only through provider calls
(the actions) and ``sync.apply_document``.
"""

from .manifests import ManifestAdmin
from .orders import OrderAdmin
from .receipts import CallbackReceiptAdmin

__all__ = ["CallbackReceiptAdmin", "ManifestAdmin", "OrderAdmin"]
