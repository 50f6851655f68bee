"""OCR of page images with the Tesseract binary, when it is installed (found at run time)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.textnorm import HAN

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-chi-tra"
DPI = 300
_CJK = f"[{HAN}\\u3000-\\u303f\\uff00-\\uffef]"
# Tesseract puts spaces between Chinese characters; a reader does not see them.
_SPACE_IN_CJK = re.compile(f"(?<={_CJK}) +(?={_CJK})")
# ...and reads full-width punctuation after Chinese as ASCII with spaces around it.
_ASCII_PUNCT_AFTER_CJK = re.compile(f"(?<={_CJK})\\s*([,?!:;])\\s*")
_FULL_WIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}
_SENTENCE_END = tuple("。！？；：.!?;:」』”)）")


@lru_cache(maxsize=1)
def _installed_languages() -> frozenset[str] | None:
    binary = shutil.which("tesseract")
    if binary is None:
        return None
    try:
        out = subprocess.run(
            [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.splitlines()[1:]  # the first line names the data folder
    return frozenset(line.strip() for line in lines if line.strip())


def ocr_ready(languages: str) -> str | None:
    """None when Tesseract can read `languages` ("chi_tra+eng"); otherwise why not."""
    if not languages:
        return "OCR is turned off (setting ocr_languages)"
    installed = _installed_languages()
    if installed is None:
        return f"Tesseract is not installed ({INSTALL_HINT})"
    missing = [lang for lang in languages.split("+") if lang not in installed]
    if missing:
        return f"Tesseract lacks language data {', '.join(missing)} ({INSTALL_HINT})"
    return None


def ocr_image(image: Any, languages: str) -> str:
    """Text of a PIL image. Raises RuntimeError when Tesseract fails."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise RuntimeError(f"Tesseract is not installed ({INSTALL_HINT})")
    with tempfile.TemporaryDirectory(prefix="rag-ocr-") as tmp:
        png = Path(tmp) / "page.png"
        image.save(png, dpi=(DPI, DPI))
        try:
            out = subprocess.run(
                [binary, str(png), "stdout", "-l", languages, "--dpi", str(DPI)],
                capture_output=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(f"Tesseract failed: {exc}") from None
    if out.returncode != 0:
        message = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"Tesseract failed: {message[-1] if message else out.returncode}")
    return clean_ocr_text(out.stdout.decode("utf-8", "replace"))


def clean_ocr_text(text: str) -> str:
    """Tesseract's output as a reader sees the page: no spaces inside Chinese, full-width
    punctuation after Chinese, and lines of one sentence joined (Tesseract also breaks
    paragraphs at random, so a blank line ends a paragraph only after a sentence end)."""
    from rag.ingest.extract.pdflayout import join_wrapped

    paragraphs: list[list[str]] = [[]]
    for raw in text.replace("\f", "").splitlines():
        line = _SPACE_IN_CJK.sub("", raw).strip()
        line = _ASCII_PUNCT_AFTER_CJK.sub(lambda m: _FULL_WIDTH[m.group(1)], line)
        line = _SPACE_IN_CJK.sub("", line)
        if not line:
            if paragraphs[-1] and paragraphs[-1][-1].endswith(_SENTENCE_END):
                paragraphs.append([])
            continue
        paragraphs[-1].append(line)
    return "\n\n".join(join_wrapped(p) for p in paragraphs if p)
