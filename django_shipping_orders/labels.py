"""Label PDFs: fetching them safely from the provider's file host, checking them, merging them.

Where they are kept is :mod:`.storage`; who writes the order's label
columns is :mod:`.sync`; the download itself is ``services.download_label``.

Provider label URLs expire (Shippit's after 7 days), so the PDF is downloaded
as soon as the provider says there is one and the stored file is what the app
serves. The URL comes from data a callback can carry, so a forged callback
could name any address: a download goes only to an https host on the
account's allow-list (``LABEL_HOSTS``, else the provider's own), connects
only to a public address it resolved once and checked, for every host
(:mod:`.addresses`: no DNS rebinding, no allow-listed name pointing inside),
checks every redirect the same way, stops at ``LABEL_MAX_BYTES``, and keeps
the file only if it is a readable PDF.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TypedDict
from urllib.parse import urljoin, urlsplit

import requests

from .addresses import AddressRefused, pinned_session
from .conf import shipping_settings
from .exceptions import LabelError, LabelRefused
from .models import Order
from .providers.base import Provider
from .redaction import get_logger

logger = get_logger("django_shipping_orders.labels")

#: Redirects followed per download (each hop is checked against the allow-list again).
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


def fetch_pdf(provider: Provider, url: str, order: Order) -> bytes:
    """The PDF at ``url``, after the allow-list, address, size and content checks."""
    # A session of its own: no API key, no proxy, every connection to a checked address.
    # The sandbox alone (plain http by design) serves its labels from loopback.
    with pinned_session(allow_private=provider.allows_plain_http) as session:
        return _fetch(provider, session, url, order)


def _fetch(provider: Provider, session: requests.Session, url: str, order: Order) -> bytes:
    account = provider.account
    where = _Where(account=order.account, reference=order.reference or "")
    for _hop in range(MAX_REDIRECTS + 1):
        _check_url(provider, url, order)
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,  # each hop is checked here and in the adapter
                timeout=(account.connect_timeout, account.timeout),
                headers={"Accept": "application/pdf"},
            )
        except AddressRefused as err:
            raise LabelRefused(
                f"{order}: refused to download a label from {_host(url)!r}: {err}.", **where
            ) from None
        except requests.RequestException as err:
            # Unchained: the URL may carry a signature, the transport's message quotes it.
            raise LabelError(
                f"{order}: downloading the label from {_host(url)} failed ({type(err).__name__}).",
                **where,
            ) from None
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise LabelError(
                    f"{order}: the label host {_host(url)} answered HTTP {response.status_code}.",
                    status_code=response.status_code,
                    **where,
                )
            data = _read_limited(response, order)
        _check_pdf(data, order)
        return data
    raise LabelError(f"{order}: the label URL redirected more than {MAX_REDIRECTS} times.", **where)


class _Where(TypedDict):
    """Which order a label error is about (the error's context)."""

    account: str
    reference: str


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def _check_url(provider: Provider, url: str, order: Order) -> None:
    """Refuse URLs off the allow-list (the addresses are checked when connecting)."""
    where = _Where(account=order.account, reference=order.reference or "")
    if not provider.is_allowed_label_url(url):
        # The URL may carry a signature: name only its host.
        raise LabelRefused(
            f"{order}: refused to download a label from {_host(url)!r}: not an https host on "
            f"the label allow-list of account {order.account!r} (LABEL_HOSTS).",
            **where,
        )


def _read_limited(response: requests.Response, order: Order) -> bytes:
    limit = shipping_settings.label_max_bytes
    too_large = LabelError(
        f"{order}: the label is larger than LABEL_MAX_BYTES ({limit} bytes); not stored.",
        account=order.account,
        reference=order.reference or "",
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    buffer = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            buffer += chunk
            if len(buffer) > limit:
                raise too_large
    except requests.RequestException as err:
        # A truncated body, a read that stalled past the timeout: this order's
        # failure, never the batch's. Unchained: the transport's message quotes the URL.
        raise LabelError(
            f"{order}: reading the label from {_host(response.url or '')} failed "
            f"({type(err).__name__}).",
            account=order.account,
            reference=order.reference or "",
        ) from None
    return bytes(buffer)


def _check_pdf(data: bytes, order: Order) -> None:
    """Refuse anything that is not a PDF with at least one page that pypdf can read."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    not_pdf = f"{order}: the label host answered with something that is not a PDF"
    # The header may follow a few bytes of junk, but must be in the first kilobyte.
    if b"%PDF-" not in data[:1024]:
        raise LabelError(f"{not_pdf}.", account=order.account, reference=order.reference or "")
    try:
        pages = len(PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
        raise LabelError(
            f"{not_pdf} (unreadable: {type(err).__name__}).",
            account=order.account,
            reference=order.reference or "",
        ) from None
    if pages < 1:
        raise LabelError(
            f"{not_pdf} (no pages).", account=order.account, reference=order.reference or ""
        )


# -- printing ------------------------------------------------------------------------------


def merge_labels(orders: Iterable[Order]) -> bytes:
    """One PDF with the stored labels of ``orders``, in the order given.

    Raises ``LabelError`` naming every order that has no stored label, so
    that nothing is printed short without anyone noticing.
    """
    from pypdf import PdfReader, PdfWriter

    orders = list(orders)
    missing = [str(order.reference or order.pk) for order in orders if not order.label]
    if missing:
        raise LabelError(f"No stored label for: {', '.join(missing)}.")
    writer = PdfWriter()
    for order in orders:
        with order.label.open("rb") as handle:
            reader = PdfReader(io.BytesIO(handle.read()))
        for page in reader.pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
