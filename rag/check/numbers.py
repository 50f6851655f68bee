"""Numbers as the checks read them: digits, Chinese numerals, and the measure words that
say what a number counts."""

from __future__ import annotations

import re

from rag.textnorm import match_in_place, normalize_for_match

NUMBER = re.compile(r"\d+(?:\.\d+)?")


THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


# A year and a month written with a point, as slides date things: 2025.11.
DATED = re.compile(r"(?:19|20)\d\d\.\d{1,2}")


def numbers(text: str) -> set[str]:
    """Numbers in the text; a date written with a point also split at it: 2025.11 (a date in a
    slide) holds 2025 and 11, while 81.55 and 29.6% are matched whole (29.6% states no 29)."""
    found: set[str] = set()
    # 256,960 is one number, not 256 and 960.
    for number in NUMBER.findall(THOUSANDS.sub("", normalize_for_match(text))):
        found.add(number)
        if DATED.fullmatch(number):
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


# A number in Chinese numerals that counts something: two or more numerals, or one other than
# 一 (一個, 一些, 一起 are mostly words), before a measure word or unit.
_CN_RUN = "([零〇一二两三四五六七八九十百千]{2,}|[二两三四五六七八九十百千])"
_UNITS = "个|名|位|人|台|颗|座|所|项|件|种|次|倍|年|月|日|天|周|星期|岁|元|成|小时|秒|条|款"
_CN_QUANTITY = re.compile(f"{_CN_RUN}(?=[万亿]|{_UNITS}|分)")


# What quantities_in_digits rewrites: _CN_QUANTITY less the words where numerals are no
# number (十分 "very", 百分之 a share, 千萬 "by all means": 分 only as 分鐘) and less 萬 and 億
# (amounts are put in English scale first, rag.answer.translate.western_amounts).
_COUNTED = re.compile(f"{_CN_RUN}(?=分钟|{_UNITS})")


def quantities_in_digits(text: str) -> str:
    """The text with each number in Chinese numerals that counts something written in digits,
    in either script and otherwise unchanged: 「三十日前」 -> 「30日前」, 「五十人以上」 ->
    「50人以上」; 「一些」, 「十分重要」 and 「百分之七十」 stay."""
    folded = match_in_place(text)
    out, at = [], 0
    for m in _COUNTED.finditer(folded):
        out += [text[at : m.start(1)], str(_cn_value(m.group(1)))]
        at = m.end(1)
    return "".join([*out, text[at:]])


def stated_numbers(text: str) -> set[str]:
    """The numbers a sentence states: in digits, and in Chinese numerals before a measure
    word (「三百元」 states 300, 「十天」 10; 「一些」 states nothing). A sentence's numbers are
    checked against the passage's (passage_numbers)."""
    norm = normalize_for_match(text)
    return numbers(norm) | {str(_cn_value(m.group(1))) for m in _CN_QUANTITY.finditer(norm)}


# Measure words and units that say what a number counts: 1000家 (companies) is not 1000名
# (people). Normalised (Simplified) forms.
_MEASURES = "家名位人台个颗座所项件种次倍年月日天周岁亿万元%成"


_QUANTITY = re.compile(rf"(\d+(?:\.\d+)?)\s*([{_MEASURES}])?")


def quantities(text: str) -> dict[str, set[str]]:
    """Each number written in digits, with the measure words that follow it ('' for none):
    「約有1000家」 gives {'1000': {'家'}}."""
    found: dict[str, set[str]] = {}
    for match in _QUANTITY.finditer(THOUSANDS.sub("", normalize_for_match(text))):
        found.setdefault(match.group(1), set()).add(match.group(2) or "")
    return found


# Words that scale the number before them (normalised forms): 118億 is not 118.
_MAGNITUDES = frozenset("亿万")


def measure_conflict(sentence: str, window: str, question: str = "") -> bool:
    """True when the sentence counts a number in other units than the window does: the
    window writes 1000 only as 1000家 and the sentence says 1000名員工. A number the window
    also writes bare (a table cell) or not at all is no conflict, unless the sentence scales
    it (118億台幣) and the window never does, not even in a header (「營收(億元)」): a
    table's 118th place is no sum of 118億. A number the question states in the same units
    needs no support, like any words of the question (「3×10^23顆恆星」 restated from the
    question is no conflict with a passage's 「3乘以10的23次方」)."""
    stated = quantities(window)
    asked = quantities(question) if question else {}
    scales = _MAGNITUDES & set(normalize_for_match(window))
    for number, units in quantities(sentence).items():
        seen = stated.get(number)
        if not seen or units <= asked.get(number, set()):
            continue
        if "" not in seen and not (units - {""}) <= seen:
            return True
        if (units & _MAGNITUDES) - seen - scales:
            return True
    return False
