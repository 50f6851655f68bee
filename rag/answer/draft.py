"""Drafting an answer with the model: the reply streamed as it comes, held back while it may
still be the refusal phrase (a refusal that is retried is never shown), a refusal begun and
abandoned cut, and one retry without the way out when the model says the passages do not
answer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rag.answer.prompting import Prompt
from rag.check.sentences import strip_markers
from rag.generate.base import GenerationTimings, Generator, Messages
from rag.generate.prompts import PROMPTS, REFUSAL_MARKERS, is_refusal
from rag.textnorm import Script, spaceless, to_script


def _no_answer(text: str) -> bool:
    """A refusal, or a reply of nothing but passage numbers (「[4]」)."""
    return not strip_markers(text).strip() or is_refusal(text)


_LEAD = re.compile(r"^[\s\[【［\]】］\d,，、]*")


# What a reply may be the start of while nothing is shown: the refusal markers and each
# language's whole refusal phrase ("The documents do not contain…" starts with no marker).
_HELD_BACK = tuple(
    dict.fromkeys(spaceless(t) for t in (*REFUSAL_MARKERS, *(p.refusal for p in PROMPTS.values())))
)


def _lead_norm(text: str) -> str:
    """A reply's start as compared with refusal phrases: markers and spaces aside."""
    return spaceless(_LEAD.sub("", text))


def _may_become_refusal(text: str) -> bool:
    """Whether a reply so far (markers and spaces aside) is still the start of a refusal
    phrase: nothing is shown until it is not."""
    norm = _lead_norm(text)
    return any(phrase.startswith(norm) for phrase in _HELD_BACK)


# Characters (spaces and markers aside) from which a refusal begun and abandoned is cut.
_ABANDONED_MIN = 8


def _abandoned_refusal(text: str) -> int:
    """How many leading characters of a reply are a refusal begun and then abandoned for an
    answer ("The documents do not contain this[1] SuedLink will…", seen over English
    documents): that start says the opposite of what follows. 0 when there is none."""
    end = 0  # a longer start can only be a refusal phrase's start if a shorter one is
    while end < len(text) and _may_become_refusal(text[: end + 1]):
        end += 1
    return end if len(_lead_norm(text[:end])) >= _ABANDONED_MIN else 0


@dataclass
class Draft:
    """One reply of the model: its text (an abandoned refusal start cut), when its first piece
    was shown (None: never), whether it came from the retry, and how generation went."""

    text: str
    first: float | None
    retried: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


def stream_reply(
    generator: Generator,
    messages: Messages,
    frame: Script,
    keep: frozenset[str],
    max_tokens: int,
    on_token: Callable[[str], None] | None,
    reuse: bool = False,
) -> Draft:
    """One reply of the model in `frame`'s script. Pieces are held back while the reply may
    still be the refusal phrase, so a refusal that is retried is never shown, and generation
    stops once it is one."""
    pieces: list[str] = []
    first: float | None = None
    dropped = 0  # characters of an abandoned refusal start, never shown
    done: list[GenerationTimings] = []
    stream = generator.stream(messages, max_tokens, reuse_prompt=reuse, on_done=done.append)
    try:
        for piece in stream:
            pieces.append(to_script(piece, frame, keep))
            text = "".join(pieces)
            if is_refusal(text):
                break
            if first is None and not _may_become_refusal(text):
                first = time.perf_counter()
                dropped = _abandoned_refusal(text)
                if on_token:
                    on_token(text[dropped:].lstrip())
            elif first is not None and on_token:
                on_token(pieces[-1])
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()  # ends the model's generation and hands over its timings
    stats = done[-1].as_dict() if done else {}
    return Draft("".join(pieces)[dropped:].strip(), first, False, stats)


def draft_answer(
    generator: Generator,
    prompt: Prompt,
    max_tokens: int,
    on_token: Callable[[str], None] | None,
    retry: bool = True,
) -> Draft:
    """The model's reply to `prompt`, asked once more without the way out if it says the
    passages do not answer (with `retry`)."""
    shown = None if prompt.bridged else on_token
    draft = stream_reply(generator, prompt.messages(), prompt.frame, prompt.keep, max_tokens, shown)
    if retry and _no_answer(draft.text):
        # The small default model says 「資料中沒有相關資訊」 for answers that are in the
        # passages (8 of 20 false refusals in eval/RESULTS.md, session 3). Asked once more
        # without that way out, it answered half of those; what it says then is judged
        # like any answer, and an invented one is refused by the checks.
        again = stream_reply(
            generator,
            prompt.messages(retry=True),
            prompt.frame,
            prompt.keep,
            max_tokens,
            shown,
            reuse=True,
        )
        if not _no_answer(again.text):
            return replace(again, retried=True)
    return draft
