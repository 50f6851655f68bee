"""Rendering a checked answer for the user: in the question's script (done while drafting),
each checked sentence translated when the model answered in the documents' language
(Chinese for an English question, English for a Chinese one), with its citations put back in
code, or the refusal phrase of the question's language."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from rag.answer.translate import clean_translation, keeps_numbers, western_amounts
from rag.answer.types import Answer
from rag.check.sentences import CheckedSentence, CheckResult
from rag.generate.base import Generator
from rag.generate.prompts import PROMPTS, TRANSLATE_TO_CHINESE, TRANSLATE_TO_ENGLISH
from rag.textnorm import Script, to_script


def translate_sentences(
    generator: Generator,
    kept: CheckResult,
    on_token: Callable[[str], None] | None,
    script: Script = "english",
) -> tuple[CheckResult, float]:
    """Each checked sentence in the question's `script` (English from Chinese, streamed;
    Chinese from English, shown a sentence at a time), with its citations put back in code,
    and when the first piece was shown. A translation that states a number the sentence does
    not is discarded and the checked sentence shown instead."""
    first: float | None = None
    out: list[CheckedSentence] = []
    for sentence in kept.sentences:
        if script == "english":
            prompt = TRANSLATE_TO_ENGLISH.format(text=western_amounts(sentence.text))
        else:
            prompt = TRANSLATE_TO_CHINESE.format(text=sentence.text)
        pieces: list[str] = []
        for piece in generator.stream([{"role": "user", "content": prompt}], 160):
            pieces.append(piece)
            if script == "english":
                first = first or time.perf_counter()
                if on_token:
                    on_token(piece)
        if script == "english":
            translation = clean_translation("".join(pieces))
            faithful = keeps_numbers(translation, sentence.text)
        else:
            # Shown a sentence at a time, converted whole: OpenCC's Taiwan phrases (软件 ->
            # 軟體) may span two pieces, and what is shown is then what is kept. Every number
            # of the English must be in the Chinese (10 billion as 100 億).
            translation = clean_translation(to_script("".join(pieces), script))
            faithful = keeps_numbers(sentence.text, translation)
        text = translation if translation and faithful else sentence.text
        if script != "english":
            first = first or time.perf_counter()
            if on_token:
                on_token(text)
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
