"""The label answer's other half: its ``order`` mirrored, its ``documents`` stored.

Shippit's ``GET /orders/{ref}/label`` answers the label URL beside the order
as it stands (state, products, price) and a ``documents`` map (the A6 label,
a customs invoice ...), each a pre-signed URL that expires. Once a label is
stored, :func:`after_label_stored` applies that order through
``sync.apply_document`` and downloads every PDF document through the same
SSRF-safe fetch as labels, into the same private storage. A document that
fails is noted on its row and tried again next time; it never fails the label.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import replace

from django.core.files.base import ContentFile
from django.utils import timezone

from .exceptions import LabelError, ShippingOrdersError
from .models import LabelDocument, Order, Source
from .providers.base import Provider
from .providers.types import DocumentLink, LabelInfo
from .redaction import get_logger, scrub

logger = get_logger("django_shipping_orders.labels")


def after_label_stored(order: Order, provider: Provider, info: LabelInfo | None) -> None:
    """Mirror the label answer's order and store its documents (asks for it if needed)."""
    if not provider.supports_label_documents:
        return
    try:
        if info is None:
            if not order.reference:
                return
            started = timezone.now()
            info = replace(provider.get_label(order.reference), fetched_at=started)
        if info.order is not None:
            from .sync import apply_document

            # The answer carries no provider time: it is true as of when it was asked
            # for, so a webhook about an older moment that arrives later stays older.
            as_of = info.fetched_at or timezone.now()
            document = replace(info.order, remote_updated_at=as_of)
            apply_document(order.account, document, Source.LABEL, order=order, observed_at=as_of)
        store_documents(order, provider, info.documents)
    except ShippingOrdersError as err:
        logger.warning("Label documents of %s not stored: %s", order, err)


def store_documents(
    order: Order, provider: Provider, links: Iterable[DocumentLink], *, force: bool = False
) -> list[LabelDocument]:
    """Record and download ``links`` as documents of ``order``; returns their rows."""
    from .labels import fetch_pdf

    rows = []
    for link in links:
        row, _ = LabelDocument.objects.get_or_create(order=order, kind=link.kind)
        row.url, row.page_size, row.file_type = link.url[:2000], link.page_size, link.file_type
        if row.file and not force:
            row.save(update_fields=["url", "page_size", "file_type", "updated_at"])
            rows.append(row)
            continue
        if link.file_type and link.file_type.lower() != "pdf":
            row.error = f"not stored: only PDF documents are kept (this one is {link.file_type})"
        else:
            try:
                data = fetch_pdf(provider, link.url, order)
            except LabelError as err:
                row.error = scrub(str(err))[:2000]
            else:
                digest = hashlib.sha256(data).hexdigest()
                name = f"{order.reference or order.pk}-{link.kind}-{digest[:12]}.pdf"
                row.file.save(name, ContentFile(data), save=False)
                row.sha256, row.downloaded_at, row.error = digest, timezone.now(), ""
        row.save()
        rows.append(row)
    return rows


def printable_documents(order: Order) -> list[LabelDocument]:
    """The order's stored documents that are not the label itself (customs invoices ...)."""
    label_digest = ""
    if order.label:
        with order.label.open("rb") as handle:
            label_digest = hashlib.sha256(handle.read()).hexdigest()
    return [
        doc
        for doc in order.documents.exclude(file="").order_by("kind")
        if doc.sha256 != label_digest and doc.kind != "label"
    ]


def merge_with_documents(orders: Iterable[Order]) -> bytes:
    """One PDF: each order's label followed by its other documents (customs invoices ...)."""
    from pypdf import PdfReader, PdfWriter

    orders = list(orders)
    missing = [str(order.reference or order.pk) for order in orders if not order.label]
    if missing:
        raise LabelError(f"No stored label for: {', '.join(missing)}.")
    writer = PdfWriter()
    for order in orders:
        files = [order.label, *(doc.file for doc in printable_documents(order))]
        for stored in files:
            with stored.open("rb") as handle:
                for page in PdfReader(io.BytesIO(handle.read())).pages:
                    writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
