"""Copied lines (rule copied_lines): where an answer sentence copies a run of a passage's
short lines whole (a slide's title block, a list), the lines after the last one the
question is about are cut.

Slides and lists are lines that end no sentence. The model copies them as one sentence, so
the README's first question (「台智雲的總經理是誰？」) was answered with the slide's whole title
block: 「吳漢章 (吳漢章), Ph.D. 台智雲 總經理 TCA AI大聯盟 會長 2025~2026是定位台灣AI競爭力的
關鍵年份」 (failure class 4 of issue 25). The cut keeps 「吳漢章 (吳漢章), Ph.D. 台智雲 總經理」.
The judge keeps a cut only if the answer still passes every verdict rule it passed before
(a number asked for may be on a line after the question's words: then nothing is cut).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.check.support import grams
from rag.textnorm import spaceless

# A line ending so ends a sentence: such lines are prose, not a slide's or a list's lines.
_SENTENCE_END = tuple("。！？!?；;.：:")

# A line with no letter, digit or Chinese character (a fence, a rule 「---」) is no line here.
_WORDY = re.compile(r"[^\W_]")


def _offset(text: str, kept: int) -> int:
    """The index in `text` after which `kept` characters of its matching form lie."""
    seen = 0
    for index, char in enumerate(text):
        if seen >= kept:
            return index
        seen += len(spaceless(char))
    return len(text)


def cut_copied_lines(sentence: str, passages: Sequence[str], question: str) -> str | None:
    """`sentence` without the passage lines it copies after the last line sharing a word with
    `question`, when it copies two or more whole lines in a row that end no sentence and ends
    with them; None when there is nothing to cut."""
    body = sentence.rstrip("。！？!?. ")
    flat = spaceless(body)
    asked = grams(question)
    for passage in passages:
        lines = [line for line in passage.splitlines() if _WORDY.search(line)]
        forms = [spaceless(line) for line in lines]  # each line as compared with the sentence
        copied = [len(form) >= 2 and form in flat for form in forms]
        start = 0
        while start < len(lines):
            if not copied[start]:
                start += 1
                continue
            end = start
            while end + 1 < len(lines) and copied[end + 1]:
                end += 1
            run, run_forms = lines[start : end + 1], forms[start : end + 1]
            start = end + 1
            if len(run) < 2 or any(form.endswith(_SENTENCE_END) for form in run_forms):
                continue
            about = [n for n, line in enumerate(run) if grams(line) & asked]
            if not about:
                continue
            tail = "".join(run_forms[about[-1] + 1 :])
            if tail and flat.endswith(tail) and len(flat) > len(tail):
                return body[: _offset(body, len(flat) - len(tail))].rstrip()
    return None
