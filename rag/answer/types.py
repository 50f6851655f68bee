"""What an answer is: the text shown, its checked citations, and the record of how it was
made (what was retrieved, searched, drafted and timed), with its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.check.sentences import CheckedSentence
from rag.generate.prompts import is_refusal
from rag.ingest.chunking import location
from rag.retrieve.retriever import Hit
from rag.textnorm import Script


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    start: int
    end: int
    text: str
    # Where the passage is in its file (chunks never cross a page, slide or section).
    page: int | None = None
    slide: int | None = None
    section: str | None = None

    def location(self) -> dict[str, object]:
        return location(self.page, self.slide, self.section)

    def to_json(self) -> dict[str, object]:
        fields = {"n": self.n, "source": self.source, "start": self.start, "end": self.end}
        return {**fields, **self.location(), "text": self.text}


# What a support rule that dropped a sentence (CheckedSentence.dropped_by) says to the user.
_DROPPED = {
    "numbers_stated": "a number it states is in none of them",
    "chinese_numerals": "a number it states is in none of them",
    "measure_words": "a number it states counts something else there",
    "question_names": "they do not name what the question asks about",
}


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    script: Script
    mode: str  # "llm" or "extractive"
    citations: list[Citation] = field(default_factory=list)
    sentences: list[CheckedSentence] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    raw_answer: str = ""
    standalone_question: str | None = None
    translated_question: str | None = None
    also_searched: list[str] = field(default_factory=list)
    relevance: float | None = None
    retried: bool = False  # the model said the passages do not answer, then was asked again
    looked_further: bool = False  # answered from the passages after the first top_k
    # Answered from the top passage read alone (rule top_passage_alone); the refused reply of
    # that reading when all passages were read after it.
    read_alone: bool = False
    other_reply: str | None = None
    # What refused it: "model", "support" or a rule of rag.check.catalog ("" if answered),
    # and why, in words ("the question asks for a sum and the answer states none").
    refused_by: str = ""
    refused_reason: str = ""
    # The few words of the answer that fill the question's slot (rag.answer.direct), if any.
    direct: str | None = None

    def revision_note(self) -> str:
        """Why the checked answer differs from the reply streamed while it was drafted: for a
        refusal, what refused it (「81.55 PF」 for a construction cost: "the question asks for
        a sum and the answer states none"; a number no passage states)."""
        if self.refused:
            if self.refused_by not in ("", "model", "support") and self.refused_reason:
                return f"refused: {self.refused_reason}"
            blamed = next((s.dropped_by for s in self.sentences if s.dropped_by in _DROPPED), "")
            return "not supported by the passages" + (f": {_DROPPED[blamed]}" if blamed else "")
        if self.other_reply is not None and not is_refusal(self.other_reply):
            # The top passage's answer was shown, then refused by the checks (a refusal by
            # the model itself is never shown).
            return "read again over all passages"
        return "citations checked"

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "translated_question": self.translated_question,
            "also_searched": self.also_searched,
            "answer": self.answer,
            "direct_answer": self.direct,
            "refused": self.refused,
            "refused_by": self.refused_by or None,
            "refused_reason": self.refused_reason or None,
            "script": self.script,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [
                {
                    "text": s.text,
                    "citations": s.citations,
                    "supported": s.supported,
                    "repaired": s.repaired,
                    "support": round(s.support, 3),
                    "dropped_by": s.dropped_by or None,
                    "cut_by": s.cut_by or None,
                }
                for s in self.sentences
            ],
            "retrieved": [
                {
                    "n": h.rank,
                    "source": h.source,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    **h.chunk.location(),
                    "score": round(h.score, 4),
                    "text": h.chunk.text,
                }
                for h in self.retrieved
            ],
            "raw_answer": self.raw_answer,
            "retried": self.retried,
            "looked_further": self.looked_further,
            "read_alone": self.read_alone,
            "other_reply": self.other_reply,
            "relevance": None if self.relevance is None else round(self.relevance, 3),
            "timings": self.timings,
            "model": self.model,
        }


def citation_for(n: int, hit: Hit) -> Citation:
    """Citation [n] of a retrieved passage, the whole chunk."""
    return Citation(
        n,
        hit.source,
        hit.chunk.start,
        hit.chunk.end,
        hit.chunk.text,
        **hit.chunk.location(),  # type: ignore[arg-type]
    )
