"""Tell a file's type from its bytes, using the name only where the bytes cannot say."""

from __future__ import annotations

import io
import re
import zipfile

# Kinds a ZIP container holds, from the ODF `mimetype` entry or the OOXML part folders.
_ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_OOXML_FOLDERS = {"word/": "docx", "ppt/": "pptx", "xl/": "xlsx"}
ZIP_KINDS = {"docx", "pptx", "xlsx", "odt", "odp", "ods"}
_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)[\s>]", re.I | re.S
)
# Other binary types people keep beside documents, named so that a skip explains itself.
_MAGIC = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office (.doc/.ppt/.xls)"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"{\\rtf", "RTF"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
]


def sniff(data: bytes, suffix: str) -> str:
    """The kind of `data`: pdf, docx, pptx, xlsx, odt, odp, ods, html, text, or a label of
    another binary type (e.g. "PNG image"). `suffix` (".docx") only breaks ties: a damaged
    ZIP container is taken to be what its name says."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data, suffix.lower())
    for magic, label in _MAGIC:
        if data.startswith(magic):
            return label
    text_head = head.lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(text_head) or (
        suffix.lower() in (".html", ".htm", ".xhtml") and b"<" in text_head
    ):
        return "html"
    return "text"


def _zip_kind(data: bytes, suffix: str) -> str:
    named = suffix.lstrip(".")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return _ODF_MIMETYPES.get(mimetype, f"OpenDocument ({mimetype})")
            for folder, kind in _OOXML_FOLDERS.items():
                if any(n.startswith(folder) for n in names):
                    return kind
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        # Truncated or damaged: the extractor for the named kind reports it.
        return named if named in ZIP_KINDS else "damaged ZIP archive"
    return "ZIP archive"
