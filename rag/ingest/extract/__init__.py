"""Extract text, a location map and metadata from the files people keep, one module per format.

A new format is one new module with a function `(bytes, name, ExtractOptions) -> Extracted`
and one line in each table below. Parsers are imported only when a file needs them.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import PurePath

from rag.ingest.extract.base import (
    EXTRACT_VERSION,
    Extracted,
    ExtractError,
    ExtractOptions,
    Location,
    locate,
)
from rag.ingest.extract.sniff import sniff

__all__ = [
    "EXTRACT_VERSION",
    "SUFFIXES",
    "ExtractError",
    "ExtractOptions",
    "Extracted",
    "Location",
    "extract",
    "locate",
]

# kind -> "module:function"
EXTRACTORS = {
    "text": "rag.ingest.extract.text:extract_text",
    "html": "rag.ingest.extract.html:extract_html",
    "pdf": "rag.ingest.extract.pdf:extract_pdf",
    "docx": "rag.ingest.extract.docx:extract_docx",
    "pptx": "rag.ingest.extract.pptx:extract_pptx",
    "odt": "rag.ingest.extract.odf:extract_odt",
    "odp": "rag.ingest.extract.odf:extract_odp",
}
# File names that are read, and the kind each claims to be.
SUFFIXES = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".odt": "odt",
    ".odp": "odp",
}
_TEXTUAL = {"text", "html"}


def extract(data: bytes, name: str, options: ExtractOptions | None = None) -> Extracted:
    """Extract one file's bytes. The bytes decide the format; a binary format whose bytes
    are something else is refused. Raises ExtractError with the reason."""
    options = options or ExtractOptions()
    suffix = PurePath(name).suffix.lower()
    named = SUFFIXES.get(suffix, "text")
    kind = sniff(data, suffix)
    if kind not in EXTRACTORS:
        raise ExtractError(f"the content is a {kind}, not a {suffix or 'text'} file")
    if kind in _TEXTUAL and named not in _TEXTUAL:
        raise ExtractError(
            f"named {suffix} but the content is plain text, not a {named.upper()} file "
            "(rename it to .txt to index it)"
        )
    module, function = EXTRACTORS[kind].split(":")
    extracted: Extracted = getattr(import_module(module), function)(data, name, options)
    return extracted
