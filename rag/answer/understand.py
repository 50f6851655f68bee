"""Understanding a question before anything is retrieved: its script (Traditional,
Simplified, English), a follow-up rewritten into a standalone question, and a question in
the other language than the documents' (English over Chinese, Chinese over English)
translated for retrieval."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.prompting import BRIDGE_HAN_SHARE
from rag.answer.translate import clean_translation
from rag.generate.base import Generator
from rag.generate.prompts import PROMPTS, TRANSLATE_QUESTION, TRANSLATE_QUESTION_TO_ENGLISH
from rag.textnorm import (
    Script,
    detect_script,
    han_share,
    normalize_for_match,
    to_script,
    to_traditional,
)

# What a rewritten follow-up must contain to be taken as a question (normalised forms).
_QUESTION_LIKE = re.compile(
    r"[?？]|什么|谁|哪|多少|几|如何|怎|为什么|为何|吗|呢|是否"
    r"|\b(?:what|who|whom|whose|which|when|where|why|how|is|are|was|were|do|does|did|can)\b"
)


@dataclass(frozen=True)
class Understood:
    """A question as the later steps use it."""

    question: str  # as asked
    script: Script
    standalone: str | None  # the follow-up rewritten, if it was one
    # The question in the documents' language (Traditional Chinese for an English question
    # over Chinese documents, English for a Chinese one over English documents), for
    # retrieval; for a Chinese question, also what the model is asked (rag.answer.prompting).
    translated: str | None
    translate_s: float = 0.0

    @property
    def asked(self) -> str:
        """What the model is asked: the standalone question (it does not see the history)."""
        return self.standalone or self.question

    @property
    def query(self) -> str:
        """What is searched for: the question, and its translation if there is one."""
        return f"{self.asked}\n{self.translated}" if self.translated else self.asked


_BRIDGING = {
    True: "(English question, Chinese documents: translating the question, answering in "
    "Chinese, checking, then translating the answer)",
    False: "(Chinese question, English documents: translating the question, answering in "
    "English, checking, then translating the answer)",
}


def understand(
    question: str,
    generator: Generator | None,
    chinese_corpus: bool,
    history: Sequence[tuple[str, str]] = (),
    on_status: Callable[[str], None] | None = None,
) -> Understood:
    """The question's script; with a model, a follow-up made standalone and a question in the
    other language than the corpus's translated."""
    script = detect_script(question)
    standalone = None
    if history and generator is not None:
        standalone = rewrite_follow_up(generator, question, history, script)
        if on_status and standalone != question:
            on_status(f"(searched for: {standalone})")
    translated = None
    spent = 0.0
    # An English question over Chinese documents, or a Chinese one over English documents.
    other_language = (script == "english") == chinese_corpus
    if generator is not None and other_language:
        if on_status:  # why the answer takes a while to start
            on_status(_BRIDGING[chinese_corpus])
        begun = time.perf_counter()
        if chinese_corpus:
            translated = translate_question(generator, standalone or question)
        else:
            translated = translate_question_to_english(generator, standalone or question)
        spent = time.perf_counter() - begun
    return Understood(question, script, standalone, translated, spent)


def _translation(generator: Generator, prompt: str) -> str:
    """The model's one-line reply to a translation prompt, cleaned of labels and quotes."""
    pieces = generator.stream([{"role": "user", "content": prompt}], 80, stop=["\n"])
    return clean_translation("".join(pieces))


def translate_question(generator: Generator, question: str) -> str | None:
    """The question in Traditional Chinese, for retrieval; None when the model gives nothing
    usable."""
    text = to_traditional(_translation(generator, TRANSLATE_QUESTION.format(text=question)))
    return text if text and han_share([text]) >= BRIDGE_HAN_SHARE else None


def translate_question_to_english(generator: Generator, question: str) -> str | None:
    """A Chinese question in English, for retrieval over English documents and for the model
    answering from them; None when the model gives nothing usable (Chinese left in it)."""
    text = _translation(generator, TRANSLATE_QUESTION_TO_ENGLISH.format(text=question))
    # Asked to translate, the small model sometimes answers instead (seen: "The default port
    # on which Git daemon listens for connections is 9418."): only a question is taken.
    asks = text.endswith("?") and han_share([text]) < BRIDGE_HAN_SHARE
    return text if asks else None


def rewrite_follow_up(
    generator: Generator, question: str, history: Sequence[tuple[str, str]], script: Script
) -> str:
    """A follow-up question rewritten into a standalone one, using recent turns."""
    turns = "\n".join(f"Q: {q}\nA: {a}" for q, a in list(history)[-3:])
    prompt = PROMPTS[script].rewrite.format(history=turns, question=question)
    pieces = generator.stream([{"role": "user", "content": prompt}], 64, stop=["\n"])
    rewritten = "".join(pieces).strip().strip("「」\"'")
    last = list(history)[-1][0]
    asks = _QUESTION_LIKE.search(normalize_for_match(rewritten))
    if not asks or len(rewritten) > 2 * (len(question) + len(last)) + 20:
        # The small default model sometimes answers or copies the last answer instead
        # (seen: a slide's title block for 「他還擔任什麼職務？」): the last question with
        # the follow-up still says what it is about.
        return f"{last} {question}"
    return to_script(rewritten, script)
