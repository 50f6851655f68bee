"""The direct answer: the few words of a checked answer sentence that fill the question's
slot, found in code by aligning the sentence with the question.

The default model answers a Chinese question by restating it with the slot filled:
「溜馬隊…但是卻輸給哪一隊?」 -> 「溜馬隊…但是卻輸給洛杉磯湖人。」. Asked to answer in a few
words first it wrote longer answers instead (eval/RESULTS.md, third round). So the words
between the question's text before its question word and the text after it, as they occur in
the sentence, are the direct answer: 「洛杉磯湖人」. When the sentence does not restate the
question around its question word, or the words found are not a short phrase, there is no
direct answer and the whole answer stands alone. Chinese questions only: English answers
reorder the question ("How long ...?" -> "... for 15 minutes").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import Match, SequenceMatcher

from rag.check.sentences import split_sentences, strip_markers
from rag.segment import pos_tagger
from rag.textnorm import has_han, match_in_place

# On the folded (Simplified) question: the question word, with the measure word that may
# follow it (哪一个, 几年, 多少). Not 好几/十几 (several), 如何/任何, nor 何况/何必.
_ASKING = re.compile(
    "(?<![好十几如任])(?:哪一?[个位队年种家座部本国所名次项条天支]?|什么|甚么"
    "|何(?![况必])[时年人地处种者]?|谁|多少|几[个年岁天日月位次种名项条周]?|多久|多长|多大|多高|多远)"
)
# Questions whose answer is an explanation or a yes or no, not a phrase.
_NOT_A_PHRASE = re.compile("为什么|如何|怎么|怎样|是否|吗|可不可|能不能|会不会|有没有")
# A question ending 「…的政治體制是?」 asks for what follows it.
_OPEN_END = re.compile("(?:是|为|叫|称为)$")
_PUNCTUATION = re.compile("[，。；,;：:！？!?]")
# Question words that ask for a number or a year: their answer states one.
_ASKS_NUMBER = re.compile("几|多少|多久|多长|多大|多高|多远|哪一?年|何年")
# A copula that ends the words before an answer given the other way round.
_COPULA = re.compile("(?:是|為|为|乃)$")
_NUMERAL = re.compile("[0-9０-９零〇一二两兩三四五六七八九十百千万萬亿億半]")
LONGEST = 30  # characters: a longer span is a clause, not a direct answer
ANCHOR = 2  # characters: the shortest run of the question the sentence must repeat to anchor


@dataclass(frozen=True)
class _Asked:
    """A question, folded, with its slot: asked[start:end] is the question word (start == end
    == len(asked) for 「…是?」), `kind` the length of the kind asked for after it."""

    asked: str
    start: int
    end: int
    kind: int
    number: bool  # the question word asks for a number or a year


def direct_answer(question: str, answer: str) -> str | None:
    """The direct answer from the first sentence of a checked answer that restates the
    question around its question word; None when none does."""
    slot = _asked(question) if has_han(question) else None
    if slot is None:
        return None
    for sentence in split_sentences(answer):
        found = _slot(slot, strip_markers(sentence).strip())
        if found:
            return found
    return None


def _kind_length(folded: str, at: int) -> int:
    """Characters of the nouns and measure words right after the question word: the kind of
    thing asked for (世纪 in 哪一个世纪, 倍 in 几倍, 政府基金 in 哪个政府基金); not 第一次."""
    length = 0
    for word, flag in pos_tagger().cut(folded[at:]):
        if flag[0] not in "nqm" or word.startswith("第"):
            break
        length += len(word)
    return length


def _asked(question: str) -> _Asked | None:
    """The question's slot, or None when its answer is no phrase."""
    asked = re.sub("[呢吗啊]$", "", match_in_place(question.strip().rstrip("？?。！! ")))
    if _NOT_A_PHRASE.search(asked) or ("为何" in asked and not asked.endswith("为何")):
        return None  # 為何 inside a question asks why; at its end, what
    words = list(_ASKING.finditer(asked))
    if len(words) > 1:
        return None  # two questions, or a question word used as a word
    if words:
        start, end = words[0].span()
    elif _OPEN_END.search(asked):
        start = end = len(asked)
    else:
        return None
    number = bool(words and _ASKS_NUMBER.search(words[0].group()))
    return _Asked(asked, start, end, _kind_length(asked, end), number)


def _slot(q: _Asked, sentence: str) -> str | None:
    said = match_in_place(sentence)
    blocks = [
        b
        for b in SequenceMatcher(None, q.asked, said, autojunk=False).get_matching_blocks()
        if b.size >= ANCHOR
    ]
    if q.start == 0:
        return _subject(sentence, blocks, q)
    found = _between(sentence, said, blocks, q)
    if found is None and q.end == len(q.asked) and q.asked[q.start - 1 : q.start] in ("是", "为"):
        found = _inverted(sentence, blocks, q.start)
    if found and q.number and not _NUMERAL.search(found):
        return None  # 「開始」 for 「哪一年」: the year is elsewhere in the sentence
    return found


def _inverted(sentence: str, blocks: list[Match], start: int) -> str | None:
    """「台智雲的總經理是誰？」 answered the other way round, 「吳漢章是台智雲的總經理。」: what the
    sentence says before repeating the question's subject (most of what precedes 是)."""
    subject = start - 1
    first = next((b for b in blocks if b.a < subject), None)
    covered = sum(min(b.a + b.size, subject) - b.a for b in blocks if b.a < subject)
    if first is None or first.b == 0 or 2 * covered <= subject:
        return None
    head = sentence[: first.b].strip()
    if not _COPULA.search(head):
        return None  # only 「吳漢章是|台智雲的總經理」, not 「巴西在|1930年…」
    return _phrase(head[:-1])


def _between(sentence: str, said: str, blocks: list[Match], q: _Asked) -> str | None:
    """What the sentence says between its repetition of the question's text before the slot
    (asked[:start]) and after it (asked[end:])."""
    asked, start, end, kind = q.asked, q.start, q.end, q.kind
    before = [b for b in blocks if b.a < start]
    if not before:
        return None
    anchor = before[-1]
    begin = anchor.b + min(anchor.size, start - anchor.a)
    if anchor.a + anchor.size < start:
        # One character between the repeated run and the slot: found just after the run in
        # the sentence (「排第|幾名」 against 「排名第|29名」), or, inside the question, let
        # go; at the question's end it must be there (not 「那個計劃叫|什麼」 against
        # 「…計劃，目的在…」).
        if anchor.a + anchor.size < start - 1:
            return None
        at = said.find(asked[start - 1], begin, begin + 3)
        if at >= 0:
            begin = at + 1
        elif end == len(asked):
            return None
    if end < len(asked):
        after = [b for b in blocks if b.a + b.size > end and b.b >= begin]
        if not after:
            return None
        follow = after[0]
        # A run that begins inside the question word carries its measure word: 「哪一年|第一次」
        # against 「2025年|第一次」.
        stop = follow.b + max(0, end - follow.a)
        # The kind asked for, where the sentence names it right after the answer:
        # 「二十|世紀」, 「國發|基金」.
        covered = min(follow.a + follow.size, end + kind) - max(follow.a, end)
        if covered > 0 and follow.a <= end + kind:
            stop = follow.b + (max(follow.a, end) - follow.a) + covered
    else:  # the slot ends the question: the answer runs to the end of the clause
        while begin < len(sentence) and sentence[begin] in "：: ":
            begin += 1
        stop = begin + len(_PUNCTUATION.split(sentence[begin:], maxsplit=1)[0])
    return _phrase(sentence[begin:stop])


def _subject(sentence: str, blocks: list[Match], q: _Asked) -> str | None:
    """A question that starts with its question word (「哪一個建築為分割東西歐的鐵幕的一個
    象徵?」) is answered by what the sentence says before repeating the rest of it, if that
    says something the question does not (not 「韓國首個綜合性」 for 「哪一間綜合性的…」)."""
    end, kind = q.end, q.kind
    first = next((b for b in blocks if b.size >= 2 * ANCHOR and b.a >= end), None)
    if first is None or first.b > LONGEST // 2:
        return None
    # The repeated run may begin with the kind asked for: 「無脊椎|動物的循環系統」 answers
    # 「哪一種類動物的循環系統」 with 無脊椎動物.
    carried = max(0, end + kind - first.a)
    head = sentence[: first.b + min(carried, first.size)].strip()
    if _PUNCTUATION.search(head[-1:] or "，"):
        return None
    # What the question says, less the kind it asks for (無脊椎動物 may repeat 動物).
    said = q.asked[end + kind :]
    folded = match_in_place(head)
    if any(folded[i : i + ANCHOR] in said for i in range(len(folded) - ANCHOR + 1)):
        return None
    return _phrase(_COPULA.sub("", head))


# A span that starts with a particle, or ends with a conjunction, was cut out of the sentence
# in the wrong place (「的數目從1984年的大約…」); a copula or preposition before the answer is
# dropped (「在1958年」). Folded (Simplified) forms.
_CUT_START = frozenset("的了之被把将与和及而并")
_CUT_END = frozenset("及与和或了")
_LEAD = frozenset("是为于在")


def _phrase(text: str) -> str | None:
    found = text.strip(" 、「」『』\"'")
    if len(found) > 2 and found.endswith("的"):
        found = found[:-1].rstrip()  # 「一種叫做 SipHash 的」 (雜湊函式)
    if len(found) > 1 and match_in_place(found[0]) in _LEAD:
        found = found[1:].lstrip()
    if not found or len(found) > LONGEST or _PUNCTUATION.search(found):
        return None
    if match_in_place(found[0]) in _CUT_START or match_in_place(found[-1]) in _CUT_END:
        return None
    if len(found) == 1 and has_han(found):
        return None  # 「就」: a word of the sentence, not an answer
    return found
