"""What a question asks for, and whether an answer gives it: a sum of money, a number, a
year, the holder of an office, the terms it names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.textnorm import normalize_for_match

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
    r"\d\s*(?:[亿万千百]|[a-z]*illion)|美金|台币|日币|\$|€|£|¥|usd|twd|ntd|eur|dollar|euro"
    r"|[一二两三四五六七八九十百千]+\s*[亿万]"
    # 元 after an amount or a currency, not in 元件, 元素, 单元 (issue 25: a component is no price).
    r"|[\d零〇一二两三四五六七八九十百千万亿多]\s*[元圆镑块]|[美欧日港台韩新]元|英镑|人民币"
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
# On DRCD dev, 512 questions ask for a number or a year (below) in these ways; the answers
# people wrote give one, not already in the question, for 508 (run scripts/answer_types.py).
_ASKS_NUMBER = re.compile(
    r"多少|第几|百分之几|(?<![这那近前后来哪\d])几(?:[个名位台颗次倍种项家所年月天岁级层人只款届成])"
    r"|how many|how much|what percentage|what percent|what share|what rank|which place"
)


ASKS_OTHER = re.compile(
    r"为什么|为何|怎么|如何|哪(?!一年|年)|谁|什么|\b(?:why|who|which|how come)\b"
    r"|\bwhat\b(?! percent| share| rank)"
)


_STATES_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千万亿半]+|数[十百千万亿]"
    # 首 is a number only as "the first" of something (首次, 首位), not in 首先 or 首都.
    r"|首(?:次|位|个|家|座|名|度|届|批|架|款|例|部|台|颗|项|轮|任)"
    r"|\b(?:one|two|three|four|five|six|seven|eight"
    r"|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion"
    r"|dozen|several|half|first|second|third)\b"
)


# A question that asks for a year, and what an answer to one states.
_ASKS_YEAR = re.compile(r"哪一年|哪年|何年|哪个年份|什么年份|which year|what year")


_STATES_YEAR = re.compile(
    r"\d+\s*年|\d{2,4}|[〇零一二三四五六七八九十百]+年|[〇零一二三四五六七八九十]{2,}"
    r"|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]|[去今明前后同翌]年|年[初中底末]"
)


def _new_matches(pattern: re.Pattern[str], answer: str, question: str) -> bool:
    """Whether the answer has a match of `pattern` the question does not (晶創26's 26 is
    not an answer to 「晶創26有多少核心」)."""
    asked = set(pattern.findall(question))
    return any(m not in asked for m in pattern.findall(answer))


# A number that labels a part of a text (「第 4 條」, 「第三節」, "Section 5.2"): it counts
# nothing, so it is no answer to how many, how much or how long, unless the question asks
# which part (「第幾條」, 「哪一條」, "which section").
_LABEL = re.compile(
    r"第\s*(?:\d+(?:-\d+)?|[零〇一二两三四五六七八九十百千]+)\s*(?:条|项|款|章|节|编|篇|目|页|回|卷|段)"
    r"|\b(?:article|section|chapter|clause|paragraph|page|§)\s*\d+(?:[.-]\d+)*"
)
_ASKS_LABEL = re.compile(
    r"第几|哪一?(?:条|项|款|章|节|编|篇|页|段)"
    r"|\b(?:which|what) (?:article|section|chapter|clause|paragraph|page)"
)


def amounts_stated(question: str, answer: str) -> str:
    """The answer (normalised) as it states amounts: the numbers that label a part of a text
    taken out, unless the question asks which part."""
    q, a = normalize_for_match(question), normalize_for_match(answer)
    return a if _ASKS_LABEL.search(q) else _LABEL.sub(" ", a)


def asks_number(question: str) -> bool:
    """Whether the question asks for a count, amount, rank or share (see number_missing)."""
    q = normalize_for_match(question)
    return bool(_ASKS_NUMBER.search(q)) and not ASKS_OTHER.search(q)


def number_missing(question: str, answer: str) -> bool:
    """Whether the question asks for a number (「多少」, 「第幾」, "how many") and the answer
    states none the question does not already give (amounts_stated: 「第 4 條」 is none)."""
    q = normalize_for_match(question)
    stated = amounts_stated(question, answer)
    return asks_number(question) and not _new_matches(_STATES_NUMBER, stated, q)


def asks_year(question: str) -> bool:
    """Whether the question asks which year (「哪一年」, "in what year")."""
    return _ASKS_YEAR.search(normalize_for_match(question)) is not None


def year_missing(question: str, answer: str) -> bool:
    """Whether the question asks which year and the answer states none the question does not
    already give."""
    q = normalize_for_match(question)
    stated = normalize_for_match(answer)
    return asks_year(question) and not _new_matches(_STATES_YEAR, stated, q)


# What an answer is made of, compared with the question: whole numbers and Latin words (5 is
# not in 「TOP500」), runs of Chinese characters (compared by their pairs).
_PIECE = re.compile(r"[0-9]+(?:\.[0-9]+)?|[a-z]+|[^\W\d_a-z]+")


def _pieces(text: str) -> set[str]:
    """Numbers and Latin words whole; Chinese runs as their pairs of adjacent characters (a
    lone character as itself)."""
    out: set[str] = set()
    for piece in _PIECE.findall(normalize_for_match(text)):
        if piece.isascii() or len(piece) == 1:
            out.add(piece)
        else:
            out.update(piece[i : i + 2] for i in range(len(piece) - 1))
    return out


def adds_nothing(question: str, answer: str) -> bool:
    """Whether every number, Latin word and pair of adjacent Chinese characters of the answer
    is already in the question: 「主要支持民主黨的對象包括都市地區的勞工團體以及。」 restates
    the question with its blank unfilled. Pairs, not single characters: 「江漢平原」 answers
    「漢江流域的東南方有著哪一個平原?」 with the question's characters in a new order. A lone
    character of the answer (「名」 between numbers) need only be somewhere in the question."""
    runs = [p for p in _PIECE.findall(normalize_for_match(question)) if not p.isascii()]
    return _pieces(answer) <= _pieces(question) | set("".join(runs))


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
