"""The answer without a model (--no-llm, or no model available): the retrieved sentences
that share most with the question, each cited, in the question's script."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.render import refuse
from rag.answer.types import Answer, Citation
from rag.check.sentences import CheckedSentence
from rag.check.support import grams
from rag.generate.prompts import NO_LLM_NOTICE
from rag.ingest.chunking import split_sentences as split_source_sentences
from rag.retrieve.retriever import Hit
from rag.textnorm import Script, detect_script, to_script


def best_sentences(question: str, hits: Sequence[Hit], n: int = 2) -> list[tuple[int, int, int]]:
    """The `n` sentences of the hits' chunks that share most character bigrams with the
    question, as (hit index, start, end) within the chunk's text, in reading order."""
    wanted = grams(question)
    scored: list[tuple[float, int, int, int]] = []  # (score, hit index, start, end)
    for i, hit in enumerate(hits):
        chunk = hit.chunk
        for start, end in split_source_sentences(chunk.text):
            overlap = len(wanted & grams(chunk.text[start:end])) / max(1, len(wanted))
            # Earlier passages were ranked higher by retrieval: a small tie-breaking prior.
            scored.append((overlap + 0.05 * (len(hits) - i), i, start, end))
    scored.sort(reverse=True)
    return sorted((s[1:] for s in scored[:n]), key=lambda s: (s[0], s[1]))


def extractive_answer(question: str, script: Script, hits: list[Hit]) -> Answer:
    """The retrieved sentences that share most with the question, each cited."""
    chosen = best_sentences(question, hits)
    answer = Answer(question, "", False, script, "extractive", retrieved=hits)
    if not chosen:
        return refuse(answer)
    parts, citations = [], []
    for i, start, end in chosen:
        hit = hits[i]
        text = hit.chunk.text[start:end]
        flat = " ".join(text.split())
        # Quote as written when the document is already in the question's script.
        shown = flat if detect_script(flat) == script else to_script(flat, script)
        parts.append(f"{shown}[{hit.rank}]")
        citations.append(
            Citation(
                hit.rank,
                hit.source,
                hit.chunk.start + start,
                hit.chunk.start + end,
                text,
                **hit.chunk.location(),  # type: ignore[arg-type]
            )
        )
    answer.answer = NO_LLM_NOTICE[script] + "\n" + "\n".join(parts)
    answer.citations = citations
    answer.sentences = [
        CheckedSentence(p, [c.n], True, False, 1.0) for p, c in zip(parts, citations, strict=True)
    ]
    return answer
