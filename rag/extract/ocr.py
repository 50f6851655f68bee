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
# Tesseract puts spaces between Chinese characters; a reader does not see them.
_SPACE_IN_CJK = re.compile(
    f"(?<=[{HAN}\\u3000-\\u303f\\uff00-\\uffef]) +(?=[{HAN}\\u3000-\\u303f\\uff00-\\uffef])"
)


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
    """Drop the spaces Tesseract puts between Chinese characters and the form feed."""
    lines = [_SPACE_IN_CJK.sub("", line).strip() for line in text.replace("\f", "").splitlines()]
    return "\n".join(lines).strip()
