"""Booking labelled orders for pickup, and keeping the manifests the couriers answer with.

``POST /book`` answers one entry per courier manifest, each with its own
``success``. Only the orders the provider confirmed are marked booked: an
order is confirmed when a successful entry names it, or names no orders and
is for the order's courier (courier names compared by their key, see
``couriers.py``); every other order gets "not confirmed by the provider". Every entry becomes a :class:`~.paperwork.Manifest` row, its
PDF downloaded into private storage before the pre-signed URL expires.
Reached as ``services.book_orders``; the admin's "Book for pickup" calls it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.files.base import ContentFile
from django.utils import timezone

from . import couriers, sync
from .exceptions import LabelError, ShippingOrdersError
from .models import Manifest, Order
from .providers import get_provider
from .providers.base import Provider
from .providers.types import BookingResult, ManifestResult
from .redaction import get_logger, scrub

logger = get_logger("django_shipping_orders.booking")

#: Orders one ``POST /book`` may carry (Shippit's limit).
BATCH = 1000


@dataclass
class BookingOutcome:
    """What :func:`book_orders` did: the manifests, the booked orders, the refused ones."""

    manifests: list[Manifest] = field(default_factory=list)
    booked: list[Order] = field(default_factory=list)
    #: (order, why it was not booked): the provider's error, or why it was not sent.
    failed: list[tuple[Order, str]] = field(default_factory=list)


def book_orders(account: str, orders: Iterable[Order]) -> BookingOutcome:
    """Book ``orders`` of ``account`` for pickup; see the module docstring.

    Orders without a reference, in a final state or of another account are
    not sent (they are reported in ``failed``). Provider errors for a whole
    batch (403, 422, 5xx ...) mark its orders failed with the error and are
    not raised; ``NotImplementedError`` is, for a provider that cannot book.
    """
    provider = get_provider(account)
    if not provider.supports_booking:
        raise NotImplementedError(f"account {account}'s provider does not book pickups")
    outcome = BookingOutcome()
    sendable: list[Order] = []
    for order in orders:
        reason = _not_bookable(order, account)
        if reason:
            outcome.failed.append((order, reason))
        else:
            sendable.append(order)
    for start in range(0, len(sendable), BATCH):
        _book_batch(provider, account, sendable[start : start + BATCH], outcome)
    return outcome


def _not_bookable(order: Order, account: str) -> str:
    if order.account != account:
        return f"belongs to account {order.account}, not {account}"
    if not order.reference:
        return "not submitted to the provider yet"
    if order.is_final:
        return f"{order.state}: cannot be booked"
    return ""


def _book_batch(provider: Provider, account: str, batch: list[Order], out: BookingOutcome) -> None:
    at = timezone.now()
    try:
        result = provider.book([order.reference for order in batch if order.reference])
    except ShippingOrdersError as err:
        message = f"not booked: {err}"
        sync.record_booking({}, {order.pk: message for order in batch}, at=at)
        out.failed += [(order, message) for order in batch]
        return
    manifests = [_save_manifest(account, entry) for entry in result.manifests]
    booked, failed = _assign(batch, result, manifests)
    for manifest in manifests:
        refs = [o.reference for o, m in booked.items() if m is manifest]
        if manifest.success and refs and not manifest.references:
            manifest.references = refs
            manifest.save(update_fields=["references"])
    sync.record_booking(
        {order.pk: manifest for order, manifest in booked.items()},
        {order.pk: error for order, error in failed.items()},
        at=at,
    )
    for manifest in manifests:
        _store_pdf(provider, manifest)
    out.manifests += manifests
    out.booked += list(booked)
    out.failed += list(failed.items())


def _save_manifest(account: str, entry: ManifestResult) -> Manifest:
    return Manifest.objects.create(
        account=account,
        courier=couriers.normalize(entry.courier),
        courier_name=entry.courier[:128],
        number=entry.manifest[:128],
        success=entry.success,
        error=entry.error[:128],
        error_description=entry.error_description,
        order_count=entry.order_count,
        references=list(entry.orders),
        pdf_url=entry.manifest_pdf[:2000],
        raw=sync.normalize_json(dict(entry.raw)),
    )


def _assign(
    batch: list[Order], result: BookingResult, manifests: list[Manifest]
) -> tuple[dict[Order, Manifest | None], dict[Order, str]]:
    """Which orders each manifest booked, and why the others were not booked.

    An order is booked only when the provider confirms it: a successful entry
    names it, or names no orders and is for the order's courier. An entry
    that failed gives its error to the orders it names (or, naming none, to
    its courier's orders). Any other order is reported as not confirmed.
    """
    entries = list(zip(result.manifests, manifests, strict=True))
    named: dict[str, tuple[ManifestResult, Manifest]] = {}
    by_courier: dict[str, tuple[ManifestResult, Manifest]] = {}
    for entry, row in entries:
        for ref in entry.orders:
            named.setdefault(ref, (entry, row))
        if not entry.orders and row.courier:
            by_courier.setdefault(row.courier, (entry, row))
    booked: dict[Order, Manifest | None] = {}
    failed: dict[Order, str] = {}
    for order in batch:
        hit = named.get(order.reference or "") or by_courier.get(order.courier or "\0")
        if hit is None:
            failed[order] = (
                "not confirmed by the provider: its answer names neither this order nor its "
                "courier; check with the provider before booking it again"
            )
        elif hit[0].success:
            booked[order] = hit[1]
        else:
            failed[order] = _error_text(hit[0])
    return booked, failed


def _error_text(entry: ManifestResult) -> str:
    text = entry.error_description or entry.error or "the courier refused the booking"
    code = f" ({entry.error})" if entry.error and entry.error_description else ""
    courier = f"{entry.courier}: " if entry.courier else ""
    return f"{courier}{text}{code}"


class _ManifestDownload:
    """What the label download reports about (it names an order; this names the manifest)."""

    def __init__(self, manifest: Manifest) -> None:
        self.account = manifest.account
        self.reference = manifest.number
        self._text = f"{manifest.account}: manifest {manifest.number or manifest.pk}"

    def __str__(self) -> str:
        return self._text


def _store_pdf(provider: Provider, manifest: Manifest) -> None:
    """Download the manifest PDF through the labels' SSRF-safe fetch; failures are noted."""
    if not manifest.pdf_url:
        return
    from . import labels

    subject = cast(Any, _ManifestDownload(manifest))
    try:
        data = labels.fetch_pdf(provider, manifest.pdf_url, subject)
    except LabelError as err:
        manifest.pdf_error = scrub(str(err))[:2000]
        manifest.save(update_fields=["pdf_error"])
        logger.warning("Manifest PDF of %s not stored: %s", manifest, err)
        return
    digest = hashlib.sha256(data).hexdigest()[:12]
    name = f"{manifest.number or manifest.pk}-{digest}.pdf"
    manifest.pdf.save(name, ContentFile(data), save=False)
    manifest.pdf_error = ""
    manifest.save(update_fields=["pdf", "pdf_error"])


__all__ = ["BookingOutcome", "book_orders"]
