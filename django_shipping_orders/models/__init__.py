"""The mirror: orders, their parcels and products, state history and callback receipts.

Mirrored fields carry the provider's own names (``courier_allocation``,
``delivery_postcode`` ...) so the payload and the row read alike. They are
written only by ``sync.apply_document``; everything else about an order
(bookkeeping of refreshes, placing, labels) is named as such.

The models live one family to a module (``orders``, ``contents``, ``events``,
``receipts``; the paperwork in :mod:`django_shipping_orders.paperwork`); every
one is importable from here, as are the callables the migrations name.
"""

from .contents import Parcel, Product
from .encoding import PayloadEncoder
from .events import OrderEvent, Source
from .orders import Order, OrderQuerySet, _label_storage, _label_upload_to
from .receipts import STUCK_AFTER, CallbackReceipt, CallbackReceiptQuerySet

# isort: split
# Registered after the mirror's models, as they were when this was one module.
from ..paperwork import LabelDocument, Manifest

__all__ = [
    "STUCK_AFTER",
    "CallbackReceipt",
    "CallbackReceiptQuerySet",
    "LabelDocument",
    "Manifest",
    "Order",
    "OrderEvent",
    "OrderQuerySet",
    "Parcel",
    "PayloadEncoder",
    "Product",
    "Source",
    "_label_storage",
    "_label_upload_to",
]
