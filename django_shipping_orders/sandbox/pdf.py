"""A minimal PDF writer for sandbox labels and manifests.

Labels are downloaded, stored and merged by the app, so the sandbox has to
serve files that real PDF readers accept: a correct cross-reference table and
standard fonts only. Text is enough; no images or barcodes are needed.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Page sizes in PDF points (1/72 inch).
A6 = (297.64, 419.53)
A4 = (595.28, 841.89)

_MARGIN = 18.0


def _escape(text: str) -> bytes:
    """Encode ``text`` as a PDF literal string body (WinAnsi, unknown characters as '?')."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_stream(lines: Sequence[str], size: tuple[float, float], title_size: float) -> bytes:
    """Content stream of one page: a frame, the first line as a heading, then the body."""
    width, height = size
    body_size = max(7.0, title_size * 0.6)
    top = height - _MARGIN - title_size
    half = _MARGIN / 2
    frame = f"{half:.2f} {half:.2f} {width - _MARGIN:.2f} {height - _MARGIN:.2f} re S"
    ops = [
        b"1 w",
        frame.encode(),
        b"BT",
        f"/F2 {title_size:.1f} Tf {_MARGIN:.2f} {top:.2f} Td".encode(),
    ]
    first, rest = (lines[0], lines[1:]) if lines else ("", [])
    ops.append(b"(" + _escape(first) + b") Tj")
    ops.append(f"/F1 {body_size:.1f} Tf {body_size * 1.35:.2f} TL T* T*".encode())
    for line in rest:
        ops.append(b"(" + _escape(line) + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops) + b"\n"


def render_pdf(
    pages: Sequence[Sequence[str]],
    size: tuple[float, float] = A6,
    title_size: float = 14.0,
    title: str = "",
) -> bytes:
    """Build a PDF with one page per entry of ``pages``, each a list of text lines."""
    if not pages:
        pages = [[""]]
    objects: list[bytes] = []
    n_pages = len(pages)
    page_ids = [5 + 2 * i for i in range(n_pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(f"{pid} 0 R".encode() for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [" + kids + f"] /Count {n_pages} >>".encode())
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    media = f"[0 0 {size[0]:.2f} {size[1]:.2f}]".encode()
    for i, lines in enumerate(pages):
        content_id = page_ids[i] + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox "
            + media
            + b" /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
            + f"/Contents {content_id} 0 R >>".encode()
        )
        stream = _page_stream(lines, size, title_size)
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"endstream")
    # The document information dictionary goes last so page ids stay fixed.
    info_id = len(objects) + 1
    objects.append(b"<< /Title (" + _escape(title) + b") /Producer (django-shipping-orders) >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)


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
