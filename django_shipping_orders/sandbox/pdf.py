"""Sandbox labels, customs invoices and manifests, drawn with fpdf2 and a Unicode font.

Labels are downloaded, stored, merged and printed by the app, so the sandbox
serves real PDFs that any reader accepts, and prints any receiver's name
("Roberts Zariņš", "Анна"): text is drawn with the Roboto TrueType font
(embedded, subset) rather than a standard PDF font, which knows only
Latin-1. Roboto covers Latin, Greek and Cyrillic; no font small enough to
ship covers CJK, so a character the font lacks (CJK, Arabic, Thai, emoji) is
printed transliterated to Latin letters by ``anyascii`` ("山田太郎" prints
"ShanTianTaiLang", "😀" ":grinning:"), or as its code point ("U+D800") when
it has none: never dropped (docs/sandbox.md). All three come with the
``sandbox`` extra (``pip install "django-shipping-orders[sandbox]"``), so
shops that do not run the sandbox do not install them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

#: Page sizes in PDF points (1/72 inch).
A6 = (297.64, 419.53)
A4 = (595.28, 841.89)

_MARGIN = 18.0
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_FAMILY = "SandboxSans"

MISSING = (
    "The sandbox draws its PDFs with fpdf2, the Roboto font and anyascii: "
    'pip install "django-shipping-orders[sandbox]"'
)


def check_available() -> None:
    """Raise ``RuntimeError`` naming the extra to install when the PDF libraries are missing."""
    try:
        import anyascii  # noqa: F401
        import font_roboto  # noqa: F401
        import fpdf  # noqa: F401
    except ImportError as err:
        raise RuntimeError(f"{MISSING} ({err})") from None


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """The code points the embedded font has glyphs for (read once per process)."""
    check_available()
    import font_roboto
    from fontTools.ttLib import TTFont  # fpdf2's own dependency

    with TTFont(font_roboto.Roboto, lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """``text`` with every character the font lacks transliterated, or written ``U+XXXX``."""
    covered = _covered()
    if all(ord(char) in covered for char in text):
        return text
    from anyascii import anyascii

    return "".join(
        char if ord(char) in covered else (anyascii(char) or f"U+{ord(char):04X}") for char in text
    )


def _document(size: tuple[float, float], title: str) -> Any:
    check_available()
    import font_roboto
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=size)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_MARGIN)
    # One face: parsing and subsetting a TrueType font is most of the cost of a page.
    pdf.add_font(_FAMILY, "", font_roboto.Roboto)
    pdf.set_title(printable(title) if title else title)
    # A fixed date: the same document is the same bytes however often it is drawn, so the
    # app sees the label and a document pointing at it as one file (by digest).
    pdf.set_creation_date(_EPOCH)
    pdf.set_creator("django-shipping-orders sandbox")
    pdf.set_producer("django-shipping-orders")
    return pdf


def _page(pdf: Any, lines: Sequence[str], title_size: float) -> None:
    pdf.add_page()
    width, height = pdf.w, pdf.h
    half = _MARGIN / 2
    pdf.set_line_width(1)
    pdf.rect(half, half, width - _MARGIN, height - _MARGIN)
    first, rest = (lines[0], lines[1:]) if lines else ("", [])
    pdf.set_font(_FAMILY, "", title_size)
    pdf.multi_cell(0, title_size * 1.3, printable(first) or " ", new_x="LMARGIN", new_y="NEXT")
    body = max(7.0, title_size * 0.6)
    pdf.set_font(_FAMILY, "", body)
    pdf.ln(body * 0.6)
    for line in rest:
        pdf.multi_cell(0, body * 1.35, printable(line) or " ", new_x="LMARGIN", new_y="NEXT")


def render_pdf(
    pages: Sequence[Sequence[str]],
    size: tuple[float, float] = A6,
    title_size: float = 14.0,
    title: str = "",
) -> bytes:
    """A PDF with one page per entry of ``pages``, each a list of text lines (any script)."""
    frozen = tuple(tuple(lines) for lines in pages or [[""]])
    return _render(frozen, size, title_size, title)


@lru_cache(maxsize=256)
def _render(
    pages: tuple[tuple[str, ...], ...], size: tuple[float, float], title_size: float, title: str
) -> bytes:
    # The same label is fetched again and again (retries, refreshes): drawn once.
    pdf = _document(size, title)
    for lines in pages:
        _page(pdf, lines, title_size)
    return bytes(pdf.output())


def label_pdf(
    reference: str,
    courier: str,
    courier_job_id: str,
    receiver: Sequence[str],
    label_numbers: Sequence[str],
) -> bytes:
    """One A6 shipping label: reference, courier, consignment number and receiver."""
    lines = [
        f"{courier} - {courier_job_id}",
        f"Order reference: {reference}",
        f"Consignment: {courier_job_id}",
        f"Courier: {courier}",
        "",
        "SHIP TO:",
        *[line for line in receiver if line],
        "",
        f"Parcels: {len(label_numbers)}",
        *[f"  {i} of {len(label_numbers)}: {n}" for i, n in enumerate(label_numbers, 1)],
        "",
        "SANDBOX LABEL - NOT VALID FOR SHIPPING",
    ]
    return render_pdf([lines], size=A6, title=f"Label {reference}")


def invoice_pdf(reference: str, receiver: Sequence[str], items: Sequence[str]) -> bytes:
    """An A4 commercial (customs) invoice for an international order."""
    lines = [
        f"Commercial invoice - {reference}",
        "Receiver:",
        *[line for line in receiver if line],
        "",
        "Items:",
        *items,
        "",
        "SANDBOX DOCUMENT - NOT VALID FOR CUSTOMS",
    ]
    return render_pdf([lines], size=A4, title_size=16.0, title=f"Invoice {reference}")


def manifest_pdf(manifest_id: str, booked_at: str, rows: Sequence[str]) -> bytes:
    """An A4 pickup manifest listing the booked orders, 45 rows per page."""
    per_page = 45
    chunks = [list(rows[i : i + per_page]) for i in range(0, len(rows), per_page)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks, 1):
        head = [
            f"Pickup manifest {manifest_id}",
            f"Booked at {booked_at} - {len(rows)} orders - page {number} of {len(chunks)}",
            "",
        ]
        pages.append(head + chunk)
    return render_pdf(pages, size=A4, title_size=16.0, title=f"Manifest {manifest_id}")
