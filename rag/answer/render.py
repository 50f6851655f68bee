"""Rendering a checked answer for the user: in the question's script (done while drafting),
each checked Chinese sentence translated for an English question, with its citations put back
in code, or the refusal phrase of the question's language."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from rag.answer.translate import clean_translation, keeps_numbers, western_amounts
from rag.answer.types import Answer
from rag.check.sentences import CheckedSentence, CheckResult
from rag.generate.base import Generator
from rag.generate.prompts import PROMPTS, TRANSLATE_TO_ENGLISH


def translate_sentences(
    generator: Generator, kept: CheckResult, on_token: Callable[[str], None] | None
) -> tuple[CheckResult, float]:
    """Each checked Chinese sentence in English, streamed, with its citations put back in
    code, and when the first piece was shown. A translation that states a number the
    sentence does not is discarded and the checked Chinese sentence shown instead."""
    first: float | None = None
    out: list[CheckedSentence] = []
    for sentence in kept.sentences:
        prompt = TRANSLATE_TO_ENGLISH.format(text=western_amounts(sentence.text))
        pieces: list[str] = []
        for piece in generator.stream([{"role": "user", "content": prompt}], 160):
            first = first or time.perf_counter()
            pieces.append(piece)
            if on_token:
                on_token(piece)
        english = clean_translation("".join(pieces))
        text = english if english and keeps_numbers(english, sentence.text) else sentence.text
        if on_token:
            on_token("".join(f"[{n}]" for n in sentence.citations) + " ")
        out.append(replace(sentence, text=text))
    return CheckResult(out, kept.dropped_markers), first or time.perf_counter()


def refuse(answer: Answer) -> Answer:
    """The answer as a refusal: the refusal phrase of its language, no citations."""
    answer.answer = PROMPTS[answer.script].refusal
    answer.refused = True
    answer.citations = []
    return answer
