"""Rendering a checked answer for the user: in the question's script (done while drafting),
each checked sentence translated when the model answered in the documents' language
(Chinese for an English question, English for a Chinese one), with its citations put back in
code, or the refusal phrase of the question's language."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from rag.answer.translate import clean_translation, for_translation, keeps_numbers
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
    first: list[float] = []

    def show(text: str) -> None:
        if not first:
            first.append(time.perf_counter())
        if on_token:
            on_token(text)

    out: list[CheckedSentence] = []
    for sentence in kept.sentences:
        if script == "english":
            text = _into_english(generator, sentence.text, show)
        else:
            text = _into_chinese(generator, sentence.text, script)
            show(text)
        if on_token:
            on_token("".join(f"[{n}]" for n in sentence.citations) + " ")
        out.append(replace(sentence, text=text))
    return CheckResult(out, kept.dropped_markers), first[0] if first else time.perf_counter()


def _ask(generator: Generator, prompt: str) -> Iterator[str]:
    return generator.stream([{"role": "user", "content": prompt}], 160)


def _into_english(generator: Generator, chinese: str, show: Callable[[str], None]) -> str:
    """A checked Chinese sentence in English, streamed to `show`; the sentence itself when the
    translation states a number it does not (12.5億 is 1.25 billion, not 12.5 billion)."""
    pieces: list[str] = []
    for piece in _ask(generator, TRANSLATE_TO_ENGLISH.format(text=for_translation(chinese))):
        pieces.append(piece)
        show(piece)
    english = clean_translation("".join(pieces))
    return english if english and keeps_numbers(english, chinese) else chinese


def _into_chinese(generator: Generator, english: str, script: Script) -> str:
    """A checked English sentence in `script`, converted whole (OpenCC's Taiwan phrases, 软件
    -> 軟體, may span two streamed pieces, and what is shown is then what is kept); the
    sentence itself unless every number of it is in the Chinese (10 billion as 100 億)."""
    reply = "".join(_ask(generator, TRANSLATE_TO_CHINESE.format(text=english)))
    chinese = clean_translation(to_script(reply, script))
    return chinese if chinese and keeps_numbers(english, chinese) else english


def refuse(answer: Answer) -> Answer:
    """The answer as a refusal: the refusal phrase of its language, no citations."""
    answer.answer = PROMPTS[answer.script].refusal
    answer.refused = True
    answer.citations = []
    return answer
