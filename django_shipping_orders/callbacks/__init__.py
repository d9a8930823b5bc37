"""The callback road: the provider POSTs, we store first, then apply.

- ``views``: the endpoint (authenticate, store, answer);
- ``receipts``: what is stored and how (dedupe key, the one-INSERT store);
- ``processing``: parse, apply through ``sync.apply_document``, record the
  outcome; ``reprocess()`` for the command and the admin;
- ``queue``: the deferred drain run by django-q2.
"""

from ..redaction import redact_headers, scrub
from .processing import ProcessResult, process_receipt
from .queue import process_pending, request_processing
from .receipts import content_key, dedupe_key, store_receipt
from .reprocessing import reprocess

__all__ = [
    "ProcessResult",
    "content_key",
    "dedupe_key",
    "process_pending",
    "process_receipt",
    "redact_headers",
    "reprocess",
    "request_processing",
    "scrub",
    "store_receipt",
]
