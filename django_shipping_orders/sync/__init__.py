"""Every write of an ``Order`` row but its refresh lease: ``apply_document`` for mirrored data, and the bookkeeping.

Callbacks, refreshes, admin actions and the place/cancel services all end
here, so the rules live in one place:

- the order row is locked (``select_for_update``) for a short transaction, and
  no HTTP call is made while it is held;
- stale data never wins: the order clock (:mod:`..clock`) compares the as-of
  instant of the document with that of the stored state and, separately, of
  the stored details; only a newer document changes either, and a document
  that changes nothing still moves the clock forward;
- every delivery finds the order it is about: by the provider's reference,
  or, for an order being placed that has none yet, by the shop's own
  reference (``retailer_reference`` / ``retailer_order_number``);
- a duplicate changes nothing and creates nothing;
- parcels and products are upserted with the same number of queries whatever
  their count;
- a state change is recorded as an ``OrderEvent``; signals go out after commit.

The package has one module per kind of write, so that each column has one
owner: ``apply`` (mirrored data), ``locking`` (finding the row and locking
it), ``lines`` (parcels and products),
``bookkeeping`` (refresh bookkeeping, provider errors, the stored label),
``placement`` (an order being placed), ``chunk`` (many fetched documents
applied in one transaction, their label downloads queued as one task) and
``held`` (a drain chunk's writes, sent together when the chunk is applied).
"""

from .apply import SyncResult, apply_document, fitted_fields
from .bookkeeping import (
    mark_printed,
    record_booking,
    record_error,
    record_label_failure,
    record_refresh_failure,
    record_unchanged_fetches,
    store_label,
)
from .chunk import ChunkItem, apply_documents
from .lines import merge_raw, normalize_json
from .placement import begin_placement, discard_placement, finish_placement, mark_placement

__all__ = [
    "ChunkItem",
    "SyncResult",
    "apply_document",
    "apply_documents",
    "begin_placement",
    "discard_placement",
    "finish_placement",
    "fitted_fields",
    "mark_placement",
    "mark_printed",
    "merge_raw",
    "normalize_json",
    "record_booking",
    "record_error",
    "record_label_failure",
    "record_refresh_failure",
    "record_unchanged_fetches",
    "store_label",
]
