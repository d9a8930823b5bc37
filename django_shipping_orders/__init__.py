"""django-shipping-orders: a shipping provider's orders (Shippit, Sender.lv) mirrored in Django.

Three roads lead to the mirror, and each ends in ``sync.apply_document``:

- place: ``services.place_order`` -> ``sync.begin_placement`` (the local row first)
  -> the account's adapter in ``providers`` (HTTP through ``client``)
  -> ``sync.finish_placement`` -> ``sync.apply_document``;
- callback: ``callbacks.views`` (the body stored first) -> ``callbacks.receipts``
  -> ``callbacks.processing`` -> ``sync.apply_document``;
- refresh: ``refresh.claims`` (due orders, leased) -> ``refresh.engine``
  -> the adapter's ``get_order`` (through ``client``) -> ``sync.apply_document``.

docs/architecture.md maps every module: its one job and what it may import.
"""

__version__ = "0.1.0"
