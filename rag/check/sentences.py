"""An answer's sentences and their [n] markers: parsed, stripped, split and joined again;
the checked sentences and the result of checking them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# [1] [1, 2] [1][2] [1-3] 【1】 ［1］ and the same with Chinese commas.
_MARKER = re.compile(r"[\[【［]\s*(\d+(?:\s*[,，、\-–~]\s*\d+)*)\s*[\]】］]")


_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+[」』”’\"')）]*|\n|$)|[^\n]+")


_ENGLISH_END = re.compile(r"(?<=[a-z0-9)\]】])\.\s+(?=[A-Z\[【(\u3400-\u9fff])")


_LEADING_MARKERS = re.compile(r"^(?:\s*[\[【［]\s*\d+(?:\s*[,，、\-–~]\s*\d+)*\s*[\]】］])+")


@dataclass(frozen=True)
class CheckedSentence:
    text: str
    citations: list[int]
    supported: bool
    repaired: bool
    support: float
    # Why an unsupported sentence was dropped: the support rule (rag.check.catalog) without
    # which a passage would have supported it, else "support" (no window of any passage holds
    # enough of its words); "" for a sentence that is kept.
    dropped_by: str = ""
    # The rule that cut a kept sentence short of what the model wrote (copied_lines); "" if
    # none did.
    cut_by: str = ""


@dataclass
class CheckResult:
    sentences: list[CheckedSentence] = field(default_factory=list)
    dropped_markers: list[int] = field(default_factory=list)

    @property
    def answer(self) -> str:
        """The answer text with the checked markers, unsupported sentences unmarked."""
        return join_sentences(
            [_attach(s.text, "".join(f"[{n}]" for n in s.citations)) for s in self.sentences]
        )

    @property
    def cited(self) -> list[int]:
        return sorted({n for s in self.sentences for n in s.citations})

    @property
    def any_supported(self) -> bool:
        return any(s.supported and s.citations for s in self.sentences)


def _attach(text: str, marks: str) -> str:
    """Put markers before the sentence's closing punctuation."""
    body = text.rstrip("。！？!?.")
    return f"{body}{marks}{text[len(body) :]}"


def parse_markers(text: str) -> list[int]:
    """Passage numbers named by the markers in `text`, in order, ranges expanded."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", match.group(1)):
            bounds = re.split(r"\s*[\-–~]\s*", part)
            if len(bounds) == 2 and int(bounds[1]) - int(bounds[0]) < 20:
                numbers.extend(range(int(bounds[0]), int(bounds[1]) + 1))
            else:
                numbers.extend(int(b) for b in bounds)
    return numbers


def strip_markers(text: str) -> str:
    return re.sub(r"[ \t]*" + _MARKER.pattern, "", text)


def split_sentences(answer: str) -> list[str]:
    """Answer sentences (stripped) with their markers; markers written after a sentence's
    full stop, even at the start of the next piece, stay with that sentence."""
    answer = _ENGLISH_END.sub(lambda m: m.group(0).replace(" ", "\n", 1), answer)
    sentences: list[str] = []
    for piece in _SENTENCE.findall(answer):
        piece = piece.strip()
        lead = _LEADING_MARKERS.match(piece)
        if lead and sentences:
            sentences[-1] += lead.group(0).strip()
            piece = piece[lead.end() :].strip()
        if piece and sentences and not strip_markers(piece).strip(" \t。.，,"):
            sentences[-1] += piece
        elif piece:
            sentences.append(piece)
    return sentences


def join_sentences(sentences: Sequence[str]) -> str:
    """Concatenate sentences: no space after Chinese, one space after Latin text."""
    out = ""
    for sentence in sentences:
        if out and (out[-1].isascii() or sentence[0].isascii()):
            out += " "
        out += sentence
    return out


def same_answer(checked: str, streamed: str) -> bool:
    """Whether the streamed text already showed the checked answer: the same words and the
    same citations, wherever the markers stood."""

    def words(text: str) -> str:
        return "".join(strip_markers(text).split())

    same_marks = parse_markers(checked) == parse_markers(streamed)
    return same_marks and words(checked) == words(streamed)
