"""Bad files made from good fixtures by real tools: pypdf encrypts, Pillow writes an
image-only PDF, pypdf joins text and scanned pages."""

from __future__ import annotations

import io
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PDF = FIXTURES / "000_a143eb185df1b7b2.pdf"


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(PDF))
    # RC4 needs no extra crypto package; PDFium refuses it all the same without the password.
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf(pages: int = 1, dpi: int = 100) -> bytes:
    """Pages of the fixture PDF rendered to pictures and saved as an image-only PDF."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(PDF)
    images = [doc[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def text_then_scan_pdf() -> bytes:
    """Two text pages followed by one scanned page."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(PDF), pages=(0, 2))
    writer.append(PdfReader(io.BytesIO(scanned_pdf())))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
