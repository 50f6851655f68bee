"""Whether a passage supports an answer sentence, in code: the share of the sentence's
character bigrams and words found in one window of a cited passage (a sentence or two
neighbours, a table row with its header), numbers required, names of the question required.

The model's own markers are a hint, never trusted: a sentence keeps a citation only if that
passage supports it, gets the best-supporting passage when it cited none or a wrong one, and
is marked unsupported when no passage supports it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from rag.check.catalog import ALL_ON, RuleSet
from rag.check.numbers import (
    DATED,
    THOUSANDS,
    measure_conflict,
    numbers,
    passage_numbers,
    stated_numbers,
)
from rag.check.sentences import (
    CheckedSentence,
    CheckResult,
    parse_markers,
    split_sentences,
    strip_markers,
)
from rag.ingest.chunking import split_sentences as split_source_sentences
from rag.segment import QUERY_STOPWORDS, pos_tagger, segment
from rag.textnorm import HAN, has_han, normalize_for_match

_GRAM_SOURCE = re.compile(f"[{HAN}]+|[0-9a-z]+(?:\\.[0-9]+)?")


_TABLE_ROW = re.compile(r"^\s*\|.*\||^[^\t\n]*\t")


SUPPORT_THRESHOLD = 0.5


def grams(text: str) -> set[str]:
    """Character bigrams of Chinese runs (single characters for one-character runs) and
    ASCII words and numbers, on the normalised form."""
    out: set[str] = set()
    for piece in _GRAM_SOURCE.findall(THOUSANDS.sub("", normalize_for_match(text))):
        if piece[0].isascii() or len(piece) == 1:
            out.add(piece)
            if DATED.fullmatch(piece):  # 2025.11 also matches 2025 and 11
                out.update(piece.split("."))
        else:
            out.update(piece[i : i + 2] for i in range(len(piece) - 1))
    return out


# A passage of three or more lines, none longer than this, reads as a slide: its lines go
# together.
SLIDE_LINE = 40


def windows(passage: str) -> list[str]:
    """Each sentence of a passage and each pair of neighbours: a claim must be supported by
    text that belongs together, not by words scattered over the passage."""
    spans = split_source_sentences(passage)
    if len(spans) <= 1:
        return [passage]
    singles = [passage[a:b] for a, b in spans]
    pairs = [passage[spans[i][0] : spans[i + 1][1]] for i in range(len(spans) - 1)]
    # A table row reads with its header, and its caption if the passage starts with one:
    # 「| 46 | Ublink |」 alone says nothing of rank.
    captioned = len(singles) > 2 and not _TABLE_ROW.match(singles[0])
    at = 1 if captioned and _TABLE_ROW.match(singles[1]) else 0
    if _TABLE_ROW.match(singles[at]):
        head = "\n".join(singles[: at + 1])
        return [head] + [f"{head}\n{w}" for w in singles[at + 1 :] + pairs[at + 1 :]]
    lines = [line for line in passage.splitlines() if line.strip()]
    listed = list_windows(lines)
    if len(lines) >= 3 and all(len(line) <= SLIDE_LINE for line in lines):
        # Short lines (a slide, a title block) belong together: 「吳漢章 / 台智雲 總經理 /
        # TCA AI大聯盟 會長」 are one statement spread over lines.
        return singles + pairs + listed + [passage]
    return singles + pairs + listed


# The start of an enumerated item: 「一、」, 「（一）」, 「1.」, 「(a)」, a bullet.
_ITEM = re.compile(
    r"\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十0-9a-zA-Z]+[）)]"
    r"|[0-9]+[.、．](?!\d)|[a-zA-Z][.)]\s|[-*•・]\s)"
)


def list_windows(lines: Sequence[str]) -> list[str]:
    """A line that opens a list (it ends with a colon) read with each of its items: what a
    statute says in 「雇主聘僱下列學生從事工作…每星期最長為二十小時：」 it says of
    「一、…外國留學生。」, which may be two sentences further down than a pair of neighbours
    reaches."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if line.rstrip().endswith(("：", ":")):
            for item in lines[i + 1 :]:
                if not _ITEM.match(item):
                    break
                out.append(f"{line.strip()}\n{item.strip()}")
    return out


def coverage(needle: set[str], text: str) -> float:
    return len(needle & grams(text)) / len(needle) if needle else 0.0


def content_words(text: str) -> set[str]:
    """jieba words that carry content: no question words or particles, no single Chinese
    characters (mostly function words), numbers and Latin words kept."""

    return {
        w
        for w in segment(text)
        if w not in QUERY_STOPWORDS and (len(w) > 1 or w.isascii()) and any(c.isalnum() for c in w)
    }


def word_support(sentence: str, window: str, question: str = "") -> float:
    """Share of the sentence's content words, beyond those of the question, that occur in the
    window as written (substring match, so segmentation differences do not matter)."""
    asked = normalize_for_match(question)
    words = {w for w in content_words(sentence) if w not in asked}
    if not words:
        return 0.0
    target = normalize_for_match(window)
    return sum(_occurs(w, target) for w in words) / len(words)


def _occurs(word: str, text: str) -> bool:
    """Whether a word occurs in the text as written; a number not inside a longer one (29 is
    not in 29.6% nor in 1290)."""
    if not word[0].isdigit():
        return word in text
    return re.search(rf"(?<![0-9.]){re.escape(word)}(?![0-9]|\.[0-9])", text) is not None


def lexical_support(
    sentence: str, passage: str, question: str = "", rules: RuleSet = ALL_ON, title: str = ""
) -> float:
    """Best share of the sentence's grams found in one window of the passage; a window that
    lacks a number the sentence states does not count (invented figures are the commonest
    small-model error). Grams the sentence repeats from the question are left out when
    enough remain: what must come from the passage is what the answer adds. `title`: the
    title of the passage's document, which names what every window of it is about."""
    return _best_support(sentence, windows(passage), question, rules, title)


def joint_support(
    sentence: str, first: str, second: str, question: str = "", rules: RuleSet = ALL_ON
) -> float:
    """Support by one window of each of two passages read together: for a sentence that
    joins two facts, such as two table rows (「分別排第159和244名」). Each window must state
    one of the sentence's numbers: words from one passage and a date from another (an
    article's 「2025/11/21」) do not make 「印度AI使命預計在2025年11月完成」."""
    wanted = numbers(sentence) - numbers(question)

    def states(window: str) -> bool:
        return bool(wanted & passage_numbers(window))

    seconds = [b for b in windows(second) if states(b)]
    pairs = [f"{a}\n{b}" for a in windows(first) if states(a) for b in seconds]
    return _best_support(sentence, pairs, question, rules)


def _best_support(
    sentence: str,
    candidates: Sequence[str],
    question: str,
    rules: RuleSet = ALL_ON,
    title: str = "",
) -> float:
    sentence_grams = grams(sentence)
    asked = normalize_for_match(question)
    novel = {g for g in sentence_grams if g not in asked}
    if len(novel) >= 2:
        sentence_grams = novel
    # Numbers the question gives (TOP500, a year asked about) need no support; those the
    # sentence states in Chinese numerals do (「三百元」 is not supported by 「五十元」).
    if rules.on("chinese_numerals"):
        wanted = stated_numbers(sentence) - passage_numbers(question)
    else:
        wanted = numbers(sentence) - numbers(question)
    # Where a Chinese question names someone or something, at least half of those names must
    # be in the supporting window: 「日本排第4名」 is not supported by another country's row,
    # nor 「Humain的執行長是黃仁勳」 by a sentence about NVIDIA's.
    names = (
        question_names(question)
        if has_han(question) and rules.on("question_names")
        else frozenset()
    )
    best = 0.0
    for window in candidates:
        if names:
            # A document's title names what each of its sentences is about: an encyclopedia
            # article on 波斯黇鹿 rarely repeats the name in the sentence that answers.
            norm = normalize_for_match(f"{title}\n{window}")
            if 2 * sum(_mentions(norm, n) for n in names) < len(names):
                continue
        if rules.on("numbers_stated") and not wanted <= passage_numbers(window):
            continue
        if not (rules.on("measure_words") and measure_conflict(sentence, window, question)):
            best = max(
                best,
                coverage(sentence_grams, window),
                word_support(sentence, window, question),
            )
    return best


def question_grams(question: str, skip: frozenset[str] = frozenset()) -> set[str]:
    """Grams of the question's content words (question words, particles and `skip`
    removed)."""

    out: set[str] = set()
    for word in segment(question):
        if word not in QUERY_STOPWORDS and word not in skip:
            out |= grams(word)
    return out


# jieba's tags for names of people, places, organisations and other proper nouns, and for
# Latin words.
_NAME_TAGS = frozenset(["nr", "nrt", "ns", "nt", "nz", "j", "eng"])


_ASKING = re.compile("哪|什么|谁|几|多少|怎")


# A question word and its measure word just before a noun: 「哪一座城市」, 「什麼東西」.
_ASKED_KIND = re.compile(
    "(?:什么|哪|何)[一二两三四五六七八九十几]?"
    "[个座条种家位所部本名国项支间首场次届任代些类样块片处]?$"
)


@lru_cache(maxsize=64)
def question_names(question: str) -> frozenset[str]:
    """The names a question mentions, as jieba tags them (normalised forms). A word right
    after a question word is the kind of thing asked for, not a name given: jieba tags
    「城市」 and 「东西」 as place names, and the window that names the answer to
    「哪一座城市…」 seldom says 城市. Cached: every sentence is checked against every
    window of every passage with the same question."""

    norm = normalize_for_match(question)
    names: set[str] = set()
    at = 0
    for w, flag in pos_tagger().cut(norm):
        start, at = at, at + len(w)
        if (
            flag in _NAME_TAGS
            and w not in QUERY_STOPWORDS
            and (len(w) > 1 or w.isascii())
            and not _ASKING.search(w)  # 「哪些项目」 tagged as one name
            and not _ASKED_KIND.search(norm[:start])
        ):
            names.add(w)
    return frozenset(names)


def _mentions(norm: str, name: str) -> bool:
    """Whether normalised text names `name`; a Chinese name of three or more characters also
    by one of its character pairs, since jieba often cuts a name with its neighbour (友崑那台)."""
    if name in norm or "".join(name.split()) in "".join(norm.split()):
        return True  # spaces aside: "top 500" names TOP500
    return len(name) > 2 and not name.isascii() and any(g in norm for g in grams(name))


def relevance(question: str, passage: str) -> float:
    """How much of the question's content one window of the passage covers."""
    wanted = question_grams(question)
    return max((coverage(wanted, w) for w in windows(passage)), default=0.0)


def _is_claim(sentence: str, question: str = "") -> bool:
    """A sentence with at least a few content grams, or a short answer that adds a word to
    the question (「Fujitsu」, 「吳漢章」); lead-ins like 「根據資料：」 are not claims."""
    if sentence.rstrip().endswith(("：", ":")):
        return False
    found = grams(sentence)
    if len(found) >= 3:
        return True
    # Short: a Latin word or a number, or a Chinese name of three or more characters, that
    # the question does not already say (not 「不是」, which any passage may contain).
    novel = found - grams(question)
    return len(novel) >= 2 or any(g.isascii() and len(g) > 1 for g in novel)


def check_citations(
    answer: str,
    passages: Sequence[str],
    threshold: float = SUPPORT_THRESHOLD,
    question: str = "",
    rules: RuleSet = ALL_ON,
    titles: Sequence[str] | None = None,
) -> CheckResult:
    """Check every sentence of `answer` against `passages` (numbered from 1); `rules` says
    which of the named support rules (rag.check.catalog) apply; `titles[i]` is the title of
    passage i's document."""
    result = CheckResult()
    count = len(passages)
    for raw in split_sentences(answer):
        marked = parse_markers(raw)
        valid = list(dict.fromkeys(n for n in marked if 1 <= n <= count))
        result.dropped_markers.extend(n for n in marked if not 1 <= n <= count)
        text = strip_markers(raw).strip()
        if not _is_claim(text, question):
            result.sentences.append(CheckedSentence(text, [], True, False, 0.0))
            continue
        named = titles or [""] * len(passages)
        scores = [
            lexical_support(text, p, question, rules, t)
            for p, t in zip(passages, named, strict=True)
        ]
        kept = [n for n in valid if scores[n - 1] >= threshold]
        repaired = False
        support = max((scores[n - 1] for n in kept), default=max(scores, default=0.0))
        if not kept:
            best = max(range(count), key=lambda i: scores[i]) if count else -1
            if best >= 0 and scores[best] >= threshold:
                kept = [best + 1]
                repaired = True
            elif len(numbers(text) - numbers(question)) >= 2 and rules.on("two_passages"):
                kept, support = _joint(text, passages, question, threshold, rules)
                repaired = bool(kept) and kept != valid
        elif kept != valid:
            repaired = True
        dropped_by = "" if kept else _dropped_by(text, passages, question, rules, named, threshold)
        same = next((i for i, s in enumerate(result.sentences) if s.text == text), None)
        if same is not None and kept and result.sentences[same].supported:
            # The model said it twice: once, citing both.
            before = result.sentences[same]
            merged = sorted(set(before.citations) | set(kept))
            result.sentences[same] = replace(before, citations=merged)
            continue
        result.sentences.append(
            CheckedSentence(text, kept, bool(kept), repaired, support, dropped_by)
        )
    return result


# The rules that can keep a window from supporting a sentence, in the order they are blamed.
SUPPORT_RULES = ("numbers_stated", "chinese_numerals", "measure_words", "question_names")


def _dropped_by(
    sentence: str,
    passages: Sequence[str],
    question: str,
    rules: RuleSet,
    titles: Sequence[str],
    threshold: float,
) -> str:
    """What dropped an unsupported sentence: the first support rule that is on and without
    which some passage would support it (an invented figure: numbers_stated; another
    country's row: question_names), else "support"."""
    for name in SUPPORT_RULES:
        if not rules.on(name):
            continue
        without = rules.without(name)
        if any(
            lexical_support(sentence, p, question, without, t) >= threshold
            for p, t in zip(passages, titles, strict=True)
        ):
            return name
    return "support"


def _joint(
    sentence: str, passages: Sequence[str], question: str, threshold: float, rules: RuleSet
) -> tuple[list[int], float]:
    """The two passages that together support a sentence stating several numbers best, if
    they pass the threshold: ([i, j], support), numbered from 1; else ([], 0)."""
    best: tuple[float, list[int]] = (0.0, [])
    for i in range(len(passages)):
        for j in range(i + 1, len(passages)):
            score = joint_support(sentence, passages[i], passages[j], question, rules)
            if score > best[0]:
                best = (score, [i + 1, j + 1])
    return (best[1], best[0]) if best[0] >= threshold else ([], 0.0)
