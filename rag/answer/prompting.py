"""Building the prompt: each retrieved passage as checked (its table header, then its
text) and as the model reads it (on one line, table rows as 「header: value」, in the
question's script, orders to an assistant masked), numbered, in the prompt set of the language
the model answers in."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rag.answer.guard import mask_instructions
from rag.generate.base import Messages
from rag.generate.prompts import PROMPTS, build_messages
from rag.ingest.chunking import linearize_tables, span_text
from rag.retrieve.retriever import Hit
from rag.textnorm import Script, han_share, script_margin, to_script

# Share of Chinese characters among the letters of the passages from which an English
# question is answered through a Chinese draft. A table row such as 「| 29 | Nano4 (晶創26) |
# 國網中心(NCHC) | ASUSTeK |」 is about a quarter Chinese, and the small model answers it in
# English no better than prose (eval/RESULTS.md).
BRIDGE_HAN_SHARE = 0.15


def passage_text(hit: Hit) -> str:
    """A passage as checked: its table header if any, then its text, line breaks kept."""
    return span_text(hit.chunk)


def prompt_text(passage: str, script: Script) -> str:
    """A passage as the model reads it: on one line, table rows as 「header: value」, in the
    question's script, without sentences that give orders to an assistant (rag.answer.guard).
    Shown Traditional passages for a Simplified question, the model tends to say they hold
    nothing."""
    flat = " ".join(linearize_tables(mask_instructions(passage)).split())
    return to_script(flat, script) if script == "simplified" else flat


@dataclass(frozen=True)
class Prompt:
    """What the model is asked, from which passages, and in which script it answers."""

    passages: list[str]  # as checked (rag.answer.prompting.passage_text)
    readable: list[str]  # as the model reads them
    frame: Script  # the script the model answers in
    # An English question over Chinese passages is answered in Chinese, a Chinese one over
    # English passages in English; checked, and the checked sentences translated
    # (rag.generate.prompts.TRANSLATE_TO_ENGLISH and TRANSLATE_TO_CHINESE say why).
    bridged: bool
    keep: frozenset[str]  # characters kept as the passages write them (rag.textnorm.to_script)
    question: str  # as the model is asked it and the checks compare it
    script: Script  # the script the question was asked in

    @property
    def checked_script(self) -> Script:
        """The script the checks take the question and reply in: a Chinese question answered
        from English passages is checked in English, as the model was asked it; an English
        one answered through a Chinese draft as asked."""
        return "english" if self.frame == "english" else self.script

    def messages(self, retry: bool = False) -> Messages:
        """The chat messages; `retry`: the rules without the way out of saying the passages
        do not answer."""
        prompts = PROMPTS[self.frame]
        if retry:
            prompts = replace(prompts, rules=prompts.retry_rules)
        return build_messages(prompts, self.question, list(enumerate(self.readable, start=1)))


def build_prompt(
    question: str, script: Script, hits: list[Hit], translated: str | None = None
) -> Prompt:
    """The prompt for a question over these passages, numbered from 1 in their order.
    `translated`: a Chinese question in English (rag.answer.understand), asked instead when
    the passages are English."""
    passages = [passage_text(h) for h in hits]
    chinese = han_share(passages) >= BRIDGE_HAN_SHARE
    if script == "english":
        bridged = chinese
        frame: Script = "traditional" if bridged else script
    else:
        bridged = not chinese and translated is not None
        frame = "english" if bridged else script
        if bridged and translated:
            question = translated
    # Characters a Traditional passage writes (台灣, not 臺灣) are kept as written; those of a
    # Simplified passage are not: copied from it, 经济 would stay Simplified in a Traditional
    # answer. A passage counts as Traditional only if it has more Traditional-only characters
    # than Simplified-only ones (rag.textnorm.detect_script calls a tie Traditional).
    written = [p for p in passages if script_margin(p) > 0]
    keep = frozenset("".join(written)) if frame == "traditional" else frozenset()
    # The model reads the passages in the question's script: shown Traditional passages
    # for a Simplified question, it tends to answer that the passages say nothing.
    readable = [prompt_text(p, frame) for p in passages]
    return Prompt(passages, readable, frame, bridged, keep, question, script)
