"""What a question measures, and whether an answer states a number in that measure.

「幾天」 asks for days, 「多少人」 for people, 「幾歲」 for an age, "how many hours" for hours:
an answer that states only other amounts (a sum in dollars for a GPU count, a rank for a
number of days, years of service for an age) does not answer it, however well a passage
supports its words. One table of measures, each with the units that state it, in both
scripts (normalised: Simplified) and English; a question whose measure is not in the table
is not checked.
"""

from __future__ import annotations

import re

from rag.check.rules import ASKS_OTHER
from rag.check.sentences import strip_markers
from rag.textnorm import normalize_for_match

# measure -> (words in a question that ask for it, units by which an answer states it)
_MEASURES: dict[str, tuple[str, str]] = {
    "days": (r"天|日|周|星期|礼拜|days?|weeks?", r"天|日|周|星期|礼拜|days?|weeks?"),
    "months": (r"个月|months?", r"个月|月|months?"),
    # Not 年輕, 年級, 年代 ... : 「多少年輕人」 asks for people.
    "years": (r"年(?![轻级代纪度龄底初终份薪假金资会报鉴货糕内来前后间])|years?", r"年|years?"),
    "hours": (r"小时|钟头|分钟|hours?|minutes?", r"小时|钟头|分钟|hours?|minutes?"),
    "age": (r"岁|years old", r"岁|years old|years of age"),
    "people": (r"人|名|位|people|persons?", r"人|名|位|员|people|persons?|members?"),
    "percent": (r"%|％|百分比|成|percent(?:age)?", r"%|％|百分之|成|percent"),
    "times": (r"次|倍|times", r"次|倍|times"),
}
# A number in digits or Chinese numerals, then up to a few words before its unit
# (「三十萬元以上」, 「十四日」, "14 days", "eight weeks").
_NUMBER = (
    r"(?:\d[\d,.]*|[零〇一二两三四五六七八九十百千万亿半几数]+|one|two|three|four|five|six"
    r"|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred)"
    r"(?:\s*(?:[万亿千百]|thousand|million|billion))?"
)
# A number that stands alone, with no unit or word after it (「2,790,060」, 「8.90。」, 「212萬」):
# it names no other measure.
_BARE = re.compile(rf"(?<![0-9a-z.]){_NUMBER}\s*(?:$|[。，,；;！!？?）)」\]\s])")
# 「幾」 after 這, 那, 近, 前, 後, 來 is no question (「近幾年」, 「未來幾年」).
_ASKING = r"(?:(?<![这那近前后来哪\d])几|多少|how many|how much|how old)"


def _asked(pattern: str) -> re.Pattern[str]:
    """A question word right before the measure's word: 「幾天」, 「多少個月」, "how many days"."""
    return re.compile(rf"{_ASKING}\s*(?:个|名)?\s*(?:{pattern})(?![a-z])")


_QUESTION = {name: _asked(asks) for name, (asks, _) in _MEASURES.items()}
_QUESTION["percent"] = re.compile(
    r"百分之(?:几|多少)|(?:几|多少)成|多少(?:%|％|百分比)|what (?:percentage|percent|share)"
)
_STATED = {
    name: re.compile(rf"{_NUMBER}\s*(?:多|余|个)?\s*(?:{units})")
    for name, (_, units) in _MEASURES.items()
}
# "how long" and 「多久」 ask for a duration in any unit of time.
_DURATION = re.compile(r"多久|多长时间|how long")
_TIME = ("days", "months", "years", "hours")
# 「第幾」 and 「排名」 ask for a place, not an amount.
_PLACE = re.compile(r"第几|前几|排名|排第|which place|what rank")


def asked_measure(question: str) -> tuple[str, ...]:
    """The measures a question asks a number in (any of them answers it); () when it asks
    for none the table knows, or for a place (「第幾名」)."""
    q = normalize_for_match(question)
    # A question that also asks who, which, why or how asks for that instead.
    if _PLACE.search(q) or ASKS_OTHER.search(q):
        return ()
    if _DURATION.search(q):
        return _TIME
    # The earliest question word decides: 「幾個月的平均工資」 asks months, not people.
    found = [(m.start(), name) for name, pattern in _QUESTION.items() if (m := pattern.search(q))]
    return (min(found)[1],) if found else ()


def states_measure(answer: str, measures: tuple[str, ...]) -> bool:
    """Whether the answer states a number in one of `measures`, or a number with no unit
    at all (which names no other measure); 「每年」 states a frequency."""
    a = normalize_for_match(strip_markers(answer))
    if _BARE.search(a) or ("years" in measures and re.search(r"每(?:年|月|周|天|日)", a)):
        return True
    return any(_STATED[name].search(a) for name in measures)
