"""Signals of django-shipping-orders. All are sent after the transaction commits.

- ``order_synced(sender=Order, order, result, source)``: a document was applied
  and changed something (or created the order).
- ``order_state_changed(sender=Order, order, from_state, to_state, source)``:
  the order's state changed.
- ``callback_received(sender=CallbackReceipt, receipt)``: a callback was
  authenticated and stored, before it is processed.
- ``callback_processed(sender=CallbackReceipt, receipt, result)``: a stored
  callback was applied (or ignored as a duplicate or stale).
- ``callback_failed(sender=CallbackReceipt, receipt, exception)``: processing a
  stored callback failed; the receipt can be reprocessed.
- ``label_stored(sender=Order, order)``: a label PDF was downloaded and saved.
"""

from django.dispatch import Signal

order_synced = Signal()
order_state_changed = Signal()
callback_received = Signal()
callback_processed = Signal()
callback_failed = Signal()
label_stored = Signal()
