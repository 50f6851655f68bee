"""Text normalisation for matching: width, case, whitespace and Chinese script.

Stored text is never rewritten: chunks keep offsets into the decoded original, and only the
copies used for lexical matching and embedding go through these functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

Script = Literal["traditional", "simplified", "english"]

_SPACE = re.compile(r"\s+")
# Han characters (CJK unified ideographs, extension A, compatibility): one definition for
# every module that tells Chinese text from the rest.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{HAN}]")


@lru_cache(maxsize=4)
def _converter(config: str):  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional (or mixed) Chinese to Simplified, for matching both scripts as one."""
    return str(_converter("t2s").convert(text))


def to_traditional(text: str) -> str:
    """Simplified to Traditional with Taiwan wording (OpenCC s2twp)."""
    return str(_converter("s2twp").convert(text))


def fold_width(text: str) -> str:
    """Full-width Latin letters, digits and punctuation to their ASCII forms (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def collapse_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def normalize_for_match(text: str) -> str:
    """One canonical form for lexical matching: NFKC, lower case, Simplified script."""
    return to_simplified(fold_width(text).lower())


def match_in_place(text: str) -> str:
    """The matching form (`normalize_for_match`) character by character, one character for
    each of `text`'s, so that a position found in it is the same position in `text`."""
    return "".join((normalize_for_match(c) or c)[:1] for c in text)


def spaceless(text: str) -> str:
    """The matching form (`normalize_for_match`) with every space removed."""
    return "".join(normalize_for_match(text).split())


def has_han(text: str) -> bool:
    return _CJK.search(text) is not None


def han_count(text: str) -> int:
    """How many Han characters the text has."""
    return len(_CJK.findall(text))


def han_share(texts: Sequence[str]) -> float:
    """Han characters as a share of all letters (Latin letters and Han) in the texts."""
    text = "".join(texts)
    letters = sum(c.isalpha() for c in text)
    return han_count(text) / letters if letters else 0.0


def script_margin(text: str) -> int:
    """Traditional-only characters of the text minus Simplified-only ones: characters that
    change under t2s, less those that change under s2t (Taiwan wording)."""
    joined = "".join(_CJK.findall(text))
    simplified = to_simplified(joined)
    traditional = to_traditional(joined)
    trad_only = sum(a != b for a, b in zip(joined, simplified, strict=False))
    simp_only = sum(a != b for a, b in zip(joined, traditional, strict=False))
    return trad_only - simp_only


def detect_script(text: str) -> Script:
    """Guess whether a question is Traditional Chinese, Simplified Chinese or English."""
    if not has_han(text):
        return "english"
    return "simplified" if script_margin(text) < 0 else "traditional"


def to_script(text: str, script: Script, keep: frozenset[str] = frozenset()) -> str:
    """Write Chinese text in the question's script (Taiwan wording for Traditional).

    Characters in `keep` (those of the passages) stay as written when the conversion is
    one-to-one, so that 台灣 copied from a document does not become 臺灣.
    """
    if script == "english":
        return text
    converted = to_traditional(text) if script == "traditional" else to_simplified(text)
    if not keep or len(converted) != len(text):
        return converted
    return "".join(o if o in keep else c for o, c in zip(text, converted, strict=True))
