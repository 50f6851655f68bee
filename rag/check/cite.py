"""Citations checked in code: parse markers, measure each sentence's support, repair or flag.

The model's own markers are a hint, never trusted: a sentence keeps a citation only if that
passage supports it, gets the best-supporting passage when it cited none or a wrong one, and
is marked unsupported when no passage supports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from rag.ingest.chunking import split_sentences as split_source_sentences
from rag.textnorm import HAN, has_han, normalize_for_match

# [1] [1, 2] [1][2] [1-3] 【1】 ［1］ and the same with Chinese commas.
_MARKER = re.compile(r"[\[【［]\s*(\d+(?:\s*[,，、\-–~]\s*\d+)*)\s*[\]】］]")
_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+[」』”’\"')）]*|\n|$)|[^\n]+")
_ENGLISH_END = re.compile(r"(?<=[a-z0-9)\]】])\.\s+(?=[A-Z\[【(\u3400-\u9fff])")
_LEADING_MARKERS = re.compile(r"^(?:\s*[\[【［]\s*\d+(?:\s*[,，、\-–~]\s*\d+)*\s*[\]】］])+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_GRAM_SOURCE = re.compile(f"[{HAN}]+|[0-9a-z]+(?:\\.[0-9]+)?")

_TABLE_ROW = re.compile(r"^\s*\|.*\||^[^\t\n]*\t")
SUPPORT_THRESHOLD = 0.5

Similarity = Callable[[str, Sequence[str]], list[float]]


@dataclass(frozen=True)
class CheckedSentence:
    text: str
    citations: list[int]
    supported: bool
    repaired: bool
    support: float


@dataclass
class CheckResult:
    sentences: list[CheckedSentence] = field(default_factory=list)
    dropped_markers: list[int] = field(default_factory=list)

    @property
    def answer(self) -> str:
        """The answer text with the checked markers, unsupported sentences unmarked."""
        return join_sentences(
            [_attach(s.text, "".join(f"[{n}]" for n in s.citations)) for s in self.sentences]
        )

    @property
    def cited(self) -> list[int]:
        return sorted({n for s in self.sentences for n in s.citations})

    @property
    def any_supported(self) -> bool:
        return any(s.supported and s.citations for s in self.sentences)


def _attach(text: str, marks: str) -> str:
    """Put markers before the sentence's closing punctuation."""
    body = text.rstrip("。！？!?.")
    return f"{body}{marks}{text[len(body) :]}"


def parse_markers(text: str) -> list[int]:
    """Passage numbers named by the markers in `text`, in order, ranges expanded."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", match.group(1)):
            bounds = re.split(r"\s*[\-–~]\s*", part)
            if len(bounds) == 2 and int(bounds[1]) - int(bounds[0]) < 20:
                numbers.extend(range(int(bounds[0]), int(bounds[1]) + 1))
            else:
                numbers.extend(int(b) for b in bounds)
    return numbers


def strip_markers(text: str) -> str:
    return re.sub(r"[ \t]*" + _MARKER.pattern, "", text)


def split_sentences(answer: str) -> list[str]:
    """Answer sentences (stripped) with their markers; markers written after a sentence's
    full stop, even at the start of the next piece, stay with that sentence."""
    answer = _ENGLISH_END.sub(lambda m: m.group(0).replace(" ", "\n", 1), answer)
    sentences: list[str] = []
    for piece in _SENTENCE.findall(answer):
        piece = piece.strip()
        lead = _LEADING_MARKERS.match(piece)
        if lead and sentences:
            sentences[-1] += lead.group(0).strip()
            piece = piece[lead.end() :].strip()
        if piece and sentences and not strip_markers(piece).strip(" \t。.，,"):
            sentences[-1] += piece
        elif piece:
            sentences.append(piece)
    return sentences


def join_sentences(sentences: Sequence[str]) -> str:
    """Concatenate sentences: no space after Chinese, one space after Latin text."""
    out = ""
    for sentence in sentences:
        if out and (out[-1].isascii() or sentence[0].isascii()):
            out += " "
        out += sentence
    return out


_COPY_RUN = re.compile(f"[{HAN}0-9A-Za-z]")
COPY_CONTEXT = 3  # characters matched on each side of a miscopied one


def _run(text: str, step: int) -> str:
    """Up to COPY_CONTEXT letters or digits of `text` from its end (step -1) or start (1)."""
    chars = text[::-1] if step < 0 else text
    run = ""
    for ch in chars[:COPY_CONTEXT]:
        if not _COPY_RUN.match(ch):
            break
        run += ch
    return run[::-1] if step < 0 else run


def repair_copying(answer: str, sources: Sequence[str]) -> str:
    """Characters the model got wrong while copying a passage, put back from it.

    The small default model writes a rare character as several byte tokens and sometimes
    gets one byte wrong: 「綡綢為皇家壟斷」 for the passage's 「絲綢為皇家壟斷」, 「軦輛的設計」
    for 「車輛的設計」 (seen on DRCD dev, each at the start of an answer). A Chinese character
    found in no source (passages, question) whose neighbours are found in a source around a
    single Chinese character becomes that character, when every such place agrees on it. The
    neighbours: letters or digits on both sides, four or more in all; at the start of the
    answer, three that follow."""
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
        if not enough:
            continue
        pattern = re.compile(f"{re.escape(left)}([{HAN}]){re.escape(right)}")
        found = {m.group(1) for source in sources for m in pattern.finditer(source)}
        if len(found) == 1:
            out[i] = found.pop()
    return "".join(out)


def grams(text: str) -> set[str]:
    """Character bigrams of Chinese runs (single characters for one-character runs) and
    ASCII words and numbers, on the normalised form."""
    out: set[str] = set()
    for piece in _GRAM_SOURCE.findall(_THOUSANDS.sub("", normalize_for_match(text))):
        if piece[0].isascii() or len(piece) == 1:
            out.add(piece)
            if "." in piece:  # 2025.11 also matches 2025 and 11
                out.update(piece.split("."))
        else:
            out.update(piece[i : i + 2] for i in range(len(piece) - 1))
    return out


def numbers(text: str) -> set[str]:
    """Numbers in the text, decimals also split at the point: 2025.11 (a date in a slide)
    holds 2025 and 11, while 81.55 must be matched whole."""
    found: set[str] = set()
    # 256,960 is one number, not 256 and 960.
    for number in _NUMBER.findall(_THOUSANDS.sub("", normalize_for_match(text))):
        found.add(number)
        found.update(number.split("."))
    return found


_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile("[零〇一二两三四五六七八九十百千]+")


def _cn_value(run: str) -> int:
    """一萬 -> 1 (萬 stays a unit word), 二十五 -> 25, 一二 -> 12, 十 -> 10."""
    if not any(c in _CN_UNITS for c in run):
        return int("".join(str(_CN_DIGITS[c]) for c in run))
    total = digit = 0
    for c in run:
        if c in _CN_UNITS:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
        else:
            digit = _CN_DIGITS[c]
    return total + digit


def chinese_numerals_as_digits(text: str) -> str:
    """Every run of Chinese numerals in digits: 一萬顆 -> 1萬顆, 七個 -> 7個."""
    return _CN_NUMBER.sub(lambda m: str(_cn_value(m.group(0))), text)


def passage_numbers(text: str) -> set[str]:
    """Numbers a passage states, written in digits or in Chinese numerals (一萬顆 states 1
    as in 1萬顆): what a sentence's numbers are checked against."""
    norm = normalize_for_match(text)
    return numbers(norm) | {str(_cn_value(run)) for run in _CN_NUMBER.findall(norm)}


# Measure words and units that say what a number counts: 1000家 (companies) is not 1000名
# (people). Normalised (Simplified) forms.
_MEASURES = "家名位人台个颗座所项件种次倍年月日天周岁亿万元%成"
_QUANTITY = re.compile(rf"(\d+(?:\.\d+)?)\s*([{_MEASURES}])?")


def quantities(text: str) -> dict[str, set[str]]:
    """Each number written in digits, with the measure words that follow it ('' for none):
    「約有1000家」 gives {'1000': {'家'}}."""
    found: dict[str, set[str]] = {}
    for match in _QUANTITY.finditer(_THOUSANDS.sub("", normalize_for_match(text))):
        found.setdefault(match.group(1), set()).add(match.group(2) or "")
    return found


# Words that scale the number before them (normalised forms): 118億 is not 118.
_MAGNITUDES = frozenset("亿万")


def measure_conflict(sentence: str, window: str) -> bool:
    """True when the sentence counts a number in other units than the window does: the
    window writes 1000 only as 1000家 and the sentence says 1000名員工. A number the window
    also writes bare (a table cell) or not at all is no conflict, unless the sentence scales
    it (118億台幣) and the window never does, not even in a header (「營收(億元)」): a
    table's 118th place is no sum of 118億."""
    stated = quantities(window)
    scales = _MAGNITUDES & set(normalize_for_match(window))
    for number, units in quantities(sentence).items():
        seen = stated.get(number)
        if not seen:
            continue
        if "" not in seen and not (units - {""}) <= seen:
            return True
        if (units & _MAGNITUDES) - seen - scales:
            return True
    return False


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
    if len(lines) >= 3 and all(len(line) <= SLIDE_LINE for line in lines):
        # Short lines (a slide, a title block) belong together: 「吳漢章 / 台智雲 總經理 /
        # TCA AI大聯盟 會長」 are one statement spread over lines.
        return singles + pairs + [passage]
    return singles + pairs


def coverage(needle: set[str], text: str) -> float:
    return len(needle & grams(text)) / len(needle) if needle else 0.0


def content_words(text: str) -> set[str]:
    """jieba words that carry content: no question words or particles, no single Chinese
    characters (mostly function words), numbers and Latin words kept."""
    from rag.index.lexical import QUERY_STOPWORDS, segment

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
    return sum(w in target for w in words) / len(words)


def lexical_support(sentence: str, passage: str, question: str = "") -> float:
    """Best share of the sentence's grams found in one window of the passage; a window that
    lacks a number the sentence states does not count (invented figures are the commonest
    small-model error). Grams the sentence repeats from the question are left out when
    enough remain: what must come from the passage is what the answer adds."""
    return _best_support(sentence, windows(passage), question)


def joint_support(sentence: str, first: str, second: str, question: str = "") -> float:
    """Support by one window of each of two passages read together: for a sentence that
    joins two facts, such as two table rows (「分別排第159和244名」). Each window must state
    one of the sentence's numbers: words from one passage and a date from another (an
    article's 「2025/11/21」) do not make 「印度AI使命預計在2025年11月完成」."""
    wanted = numbers(sentence) - numbers(question)

    def states(window: str) -> bool:
        return bool(wanted & passage_numbers(window))

    seconds = [b for b in windows(second) if states(b)]
    pairs = [f"{a}\n{b}" for a in windows(first) if states(a) for b in seconds]
    return _best_support(sentence, pairs, question)


def _best_support(sentence: str, candidates: Sequence[str], question: str) -> float:
    sentence_grams = grams(sentence)
    asked = normalize_for_match(question)
    novel = {g for g in sentence_grams if g not in asked}
    if len(novel) >= 2:
        sentence_grams = novel
    # Numbers the question gives (TOP500, a year asked about) need no support.
    wanted = numbers(sentence) - numbers(question)
    # An answer that adds nothing but a number to the question (「台智雲有1000名員工」) is
    # supported only where that number stands next to something the question asks about.
    bare = bool(wanted) and all(_NUMBER.fullmatch(g) for g in novel)
    # Where a Chinese question names someone or something, at least half of those names must
    # be in the supporting window: 「日本排第4名」 is not supported by another country's row,
    # nor 「Humain的執行長是黃仁勳」 by a sentence about NVIDIA's.
    names = question_names(question) if has_han(question) else frozenset()
    topic = question_grams(question, _WHEN) if bare and not names else set()
    best = 0.0
    for window in candidates:
        if names:
            norm = normalize_for_match(window)
            if 2 * sum(_mentions(norm, n) for n in names) < len(names):
                continue
        if topic and not topic & grams(window):
            continue
        if wanted <= passage_numbers(window) and not measure_conflict(sentence, window):
            best = max(
                best,
                coverage(sentence_grams, window),
                word_support(sentence, window, question),
            )
    return best


# Words that place a question in time but say nothing of its topic (normalised forms).
_WHEN = frozenset(["目前", "现在", "如今", "现今", "当时", "最近", "今年", "去年"])


def question_grams(question: str, skip: frozenset[str] = frozenset()) -> set[str]:
    """Grams of the question's content words (question words, particles and `skip`
    removed)."""
    from rag.index.lexical import QUERY_STOPWORDS, segment

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
    from rag.index.lexical import QUERY_STOPWORDS, pos_tagger

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
    if name in norm:
        return True
    return len(name) > 2 and not name.isascii() and any(g in norm for g in grams(name))


def relevance(question: str, passage: str) -> float:
    """How much of the question's content one window of the passage covers."""
    wanted = question_grams(question)
    return max((coverage(wanted, w) for w in windows(passage)), default=0.0)


_NAMED = re.compile(r"[a-z][a-z0-9\-]+|[「《“\"]([^」》”\"]{2,20})[」》”\"]")


def named_terms(question: str) -> set[str]:
    """What a Chinese question names outright: Latin words (TAIDE, Humain) and quoted titles;
    an answer about them needs passages that mention them."""
    norm = normalize_for_match(question)
    return {m.group(1) or m.group(0) for m in _NAMED.finditer(norm)}


# A question that asks for a sum of money, and the words by which an answer states one.
_ASKS_MONEY = re.compile(
    r"多少钱|多少经费|多少预算|多少资金|(?:花了|花费)多少(?!时间|时候|天|年|个月|月|小时|分钟|秒|周|星期)|成本是多少|费用是多少|造价"
    r"|(?:营收|收入|营业额|净利|获利)(?:是|有)?多少"
    r"|(?:售价|价格|价钱|定价|报价|租金|票价)(?:是|为|约|大约|大概)?(?:多少|几)"
    r"|what is the price|what does .* sell for|how much is"
    r"|how much money|how much did .* cost|what did .* cost|how much does .* cost"
)
_STATES_MONEY = re.compile(
    r"\d\s*(?:[亿万千百]|[a-z]*illion)|[元圆镑]|美金|台币|日币|\$|€|£|¥|usd|twd|ntd|eur|dollar|euro"
    r"|[一二两三四五六七八九十百千]+\s*[亿万]"
)


def asks_money(question: str) -> bool:
    return _ASKS_MONEY.search(normalize_for_match(question)) is not None


def states_money(text: str) -> bool:
    """Whether the text states a sum: a currency, or a number of 萬/億 (millions, billions)."""
    return _STATES_MONEY.search(normalize_for_match(text)) is not None


# A question that asks for a count, amount, rank or share, and what an answer to one states: a
# numeral. 「幾」 counts only before a measure word and not after 這/那/近 (「這幾年」,
# 「幾何」). A question that also asks who, which, why or how asks for that instead
# (「整合成幾家大公司，為什麼不容易？」). Numbers the question itself states do not count.
# On DRCD dev, 512 questions ask for a number or a year in these ways; the answers people
# wrote give one, not already in the question, for 508 (run scripts/answer_types.py).
_ASKS_NUMBER = re.compile(
    r"多少|第几|百分之几|(?<![这那近前后来哪\d])几(?:[个名位台颗次倍种项家所年月天岁级层人只款届成])"
    r"|how many|how much|what percentage|what percent|what share|what rank|which place"
)
_ASKS_OTHER = re.compile(
    r"为什么|为何|怎么|如何|哪(?!一年|年)|谁|什么|\b(?:why|who|which|how come)\b"
    r"|\bwhat\b(?! percent| share| rank)"
)
_STATES_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千万亿半数首]+|\b(?:one|two|three|four|five|six|seven|eight"
    r"|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion"
    r"|dozen|several|half|first|second|third)\b"
)
# A question that asks for a year, and what an answer to one states.
_ASKS_YEAR = re.compile(r"哪一年|哪年|何年|哪个年份|什么年份|which year|what year")
_STATES_YEAR = re.compile(
    r"\d+\s*年|\d{2,4}|[〇零一二三四五六七八九十百]+年|[〇零一二三四五六七八九十]{2,}"
    r"|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]|[去今明前后同翌]年|年[初中底末]"
)


# A question that asks for a day, and what an answer to one states (a day of the month, a
# weekday, a festival): 「2024年底」 does not say which day a law passed.
_ASKS_DAY = re.compile(
    r"哪一天|哪天|几月几[日号]|什么日期|哪个日期|何日|what date|which day|what day"
)
_STATES_DAY = re.compile(
    r"\d+\s*[日号]|[一二三四五六七八九十廿卅]+\s*[日号]|月\s*[初廿卅一二三四五六七八九十\d]"
    r"|\d{1,2}/\d{1,2}|\d{4}-\d{1,2}-\d{1,2}|星期|周[一二三四五六日]|礼拜|节"
    r"|\d{1,2}(?:st|nd|rd|th)\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
)


def _new_matches(pattern: re.Pattern[str], answer: str, question: str) -> bool:
    """Whether the answer has a match of `pattern` the question does not (晶創26's 26 is
    not an answer to 「晶創26有多少核心」)."""
    asked = set(pattern.findall(question))
    return any(m not in asked for m in pattern.findall(answer))


def _asked_types(norm_question: str) -> list[tuple[str, re.Pattern[str]]]:
    """What a normalised question asks for ("a year", "a day", "a number"), each with the
    pattern of an answer that gives it."""
    asked = []
    if _ASKS_YEAR.search(norm_question):
        asked.append(("a year", _STATES_YEAR))
    if _ASKS_DAY.search(norm_question):
        asked.append(("a day", _STATES_DAY))
    if _ASKS_NUMBER.search(norm_question) and not _ASKS_OTHER.search(norm_question):
        asked.append(("a number", _STATES_NUMBER))
    return asked


def asks_answer_type(question: str) -> bool:
    """Whether the question asks for a number, a year or a day (see answer_type_missing)."""
    return bool(_asked_types(normalize_for_match(question)))


def answer_type_missing(question: str, answer: str) -> str | None:
    """What kind of answer the question asks for and the answer does not give: a number for
    「多少」, 「第幾」 or "how many", a year for 「哪一年」, a day for 「哪一天」. None when
    nothing is missing."""
    q, a = normalize_for_match(question), normalize_for_match(answer)
    return next((kind for kind, gives in _asked_types(q) if not _new_matches(gives, a, q)), None)


# Offices a question may ask the holder of (「台智雲的董事長是誰」), normalised, each with the
# other ways a passage names the same office. An answer naming a person must come from a
# passage that names the office: 「台智雲總經理吳漢章」 does not say who chairs 台智雲.
# Founders are left out: passages say 「張之洞創建」, not 「創辦人」.
_CHIEF_EXECUTIVE = ("执行长", "首席执行官", "行政总裁", "ceo")
_OFFICES: dict[str, tuple[str, ...]] = {
    "董事长": ("董事长", "董事会主席", "chairman"),
    "总经理": ("总经理", "general manager"),
    "执行长": _CHIEF_EXECUTIVE,
    "首席执行官": _CHIEF_EXECUTIVE,
    "总裁": ("总裁",),
    "部长": ("部长",),
    "院长": ("院长",),
    "校长": ("校长",),
    "市长": ("市长",),
    "县长": ("县长",),
    "局长": ("局长",),
    "主任": ("主任",),
    "秘书长": ("秘书长",),
    "理事长": ("理事长",),
    "会长": ("会长",),
    "社长": ("社长",),
    "主席": ("主席",),
    "总统": ("总统",),
    "总理": ("总理",),
    "首相": ("首相",),
}
_ASKS_WHO = re.compile(r"谁|哪一?位|什么人|何人")
# 「哪位美國總統」 names a kind of person, not an office to be held: exempt.
_OFFICE_AS_KIND = re.compile(r"哪一?[位个名][^是为的]{0,6}$")


def asked_office(question: str) -> tuple[str, ...]:
    """The names of the office a Chinese question asks the holder of (「誰是…的董事長」),
    normalised; empty when it asks no such thing."""
    q = normalize_for_match(question)
    if not _ASKS_WHO.search(q):
        return ()
    for office, names in _OFFICES.items():
        at = q.find(office)
        if at >= 0 and not _OFFICE_AS_KIND.search(q[:at]):
            return names
    return ()


def names_office(office: Sequence[str], texts: Sequence[str]) -> bool:
    """Whether any of `texts` names the office by one of its names (from asked_office)."""
    return any(name in normalize_for_match(text) for text in texts for name in office)


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
    similarity: Similarity | None = None,
    question: str = "",
) -> CheckResult:
    """Check every sentence of `answer` against `passages` (numbered from 1)."""
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
        scores = [lexical_support(text, p, question) for p in passages]
        if similarity is not None and mostly_latin(text) and not mostly_latin(passages):
            semantic = similarity(text, passages)
            scores = [
                max(s, x) if numbers(text) - numbers(question) <= passage_numbers(p) else s
                for s, x, p in zip(scores, semantic, passages, strict=True)
            ]
        kept = [n for n in valid if scores[n - 1] >= threshold]
        repaired = False
        support = max((scores[n - 1] for n in kept), default=max(scores, default=0.0))
        if not kept:
            best = max(range(count), key=lambda i: scores[i]) if count else -1
            if best >= 0 and scores[best] >= threshold:
                kept = [best + 1]
                repaired = True
            elif len(numbers(text) - numbers(question)) >= 2:
                kept, support = _joint(text, passages, question, threshold)
                repaired = bool(kept) and kept != valid
        elif kept != valid:
            repaired = True
        same = next((i for i, s in enumerate(result.sentences) if s.text == text), None)
        if same is not None and kept and result.sentences[same].supported:
            # The model said it twice: once, citing both.
            before = result.sentences[same]
            merged = sorted(set(before.citations) | set(kept))
            result.sentences[same] = replace(before, citations=merged)
            continue
        result.sentences.append(CheckedSentence(text, kept, bool(kept), repaired, support))
    return result


def _joint(
    sentence: str, passages: Sequence[str], question: str, threshold: float
) -> tuple[list[int], float]:
    """The two passages that together support a sentence stating several numbers best, if
    they pass the threshold: ([i, j], support), numbered from 1; else ([], 0)."""
    best: tuple[float, list[int]] = (0.0, [])
    for i in range(len(passages)):
        for j in range(i + 1, len(passages)):
            score = joint_support(sentence, passages[i], passages[j], question)
            if score > best[0]:
                best = (score, [i + 1, j + 1])
    return (best[1], best[0]) if best[0] >= threshold else ([], 0.0)


def mostly_latin(texts: str | Sequence[str]) -> bool:
    joined = texts if isinstance(texts, str) else "".join(texts)
    letters = [c for c in joined if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) > 0.7 * len(letters)
