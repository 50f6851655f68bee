"""Characters the model got wrong while copying a passage, put back from the passage."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.check.sentences import strip_markers
from rag.textnorm import HAN, has_han

_COPY_RUN = re.compile(f"[{HAN}0-9A-Za-z-]")


COPY_CONTEXT = 3  # characters matched on each side of a miscopied one


def _run(text: str, step: int) -> str:
    """Up to COPY_CONTEXT letters or digits of `text` from its end (step -1) or start (1);
    spaces between them are passed over (「第 56 條」 is written with spaces around the
    number), anything else ends the run."""
    chars = text[::-1] if step < 0 else text
    run = ""
    for ch in chars:
        if len(run) == COPY_CONTEXT:
            break
        if ch in " \t":
            continue
        if not _COPY_RUN.match(ch):
            break
        run += ch
    return run[::-1] if step < 0 else run


def _spaced(run: str) -> str:
    """A pattern for the run's characters with any spaces between them."""
    return r"[ \t]*".join(re.escape(ch) for ch in run)


def byte_neighbours(a: str, b: str) -> bool:
    """Whether two characters are written in UTF-8 with the same bytes but the last: one
    wrong byte token of the model turns 條 (e6 a2 9d) into 梘 (e6 a2 98)."""
    x, y = a.encode(), b.encode()
    return len(x) == len(y) > 1 and x[:-1] == y[:-1] and x != y


# Neighbours on one side that suffice for a character one byte off from the source's.
ONE_SIDE_CONTEXT = 2


def _one_sided(ch: str, left: str, right: str, sources: Sequence[str]) -> str | None:
    """The one character the sources have after the end of `left` (or before the start of
    `right`) that is a byte neighbour of `ch`, the longest context that finds one first;
    None when there is none or more than one."""
    for size in range(COPY_CONTEXT, ONE_SIDE_CONTEXT - 1, -1):
        patterns = []
        if len(left) >= size:
            patterns.append(f"{_spaced(left[-size:])}[ \\t]*([{HAN}])")
        if len(right) >= size:
            patterns.append(f"([{HAN}])[ \\t]*{_spaced(right[:size])}")
        found = {m.group(1) for p in patterns for s in sources for m in re.finditer(p, s)}
        near = {c for c in found if byte_neighbours(c, ch)}
        if near:
            return near.pop() if len(near) == 1 else None
    return None


def repair_copying(answer: str, sources: Sequence[str]) -> str:
    """Characters the model got wrong while copying a passage, put back from it.

    The small default model writes a rare character as several byte tokens and sometimes
    gets one byte wrong: 「綡綢為皇家壟斷」 for the passage's 「絲綢為皇家壟斷」, 「軦輛的設計」
    for 「車輛的設計」 (seen on DRCD dev, each at the start of an answer). A Chinese character
    found in no source (passages, question) whose neighbours are found in a source around a
    single Chinese character becomes that character, when every such place agrees on it. The
    neighbours: letters or digits on both sides, four or more in all; at the start of the
    answer, three that follow; spaces between them do not count (「第 56 梘」 for 「第 56 條」,
    issue 25)."""
    pool = set("".join(sources))
    out = list(answer)
    for i, ch in enumerate(answer):
        if ch in pool or not has_han(ch):
            continue
        left, right = _run(answer[:i], -1), _run(answer[i + 1 :], 1)
        # Inside the answer both sides must match (a word of the model's own between two
        # clauses, 「，因為美英法」, is no copy); at its start, what follows.
        if not strip_markers(answer[:i]).strip():
            enough = len(right) == COPY_CONTEXT
        else:
            enough = bool(left and right) and len(left) + len(right) > COPY_CONTEXT
        found: set[str] = set()
        if enough:
            pattern = re.compile(f"{_spaced(left)}[ \t]*([{HAN}])[ \t]*{_spaced(right)}")
            found = {m.group(1) for source in sources for m in pattern.finditer(source)}
        if len(found) == 1:
            out[i] = found.pop()
        elif (near := _one_sided(ch, left, right, sources)) is not None:
            out[i] = near
    return "".join(out)
