"""Translation helpers around the model: amounts put in English scale before a Chinese
sentence is translated, the translation cleaned of labels, and a translation refused when its
numbers are not the Chinese sentence's."""

from __future__ import annotations

import re

from rag.check.numbers import (
    chinese_numerals_as_digits,
    numbers,
    passage_numbers,
    quantities_in_digits,
)
from rag.check.sentences import strip_markers
from rag.textnorm import normalize_for_match

_LABEL = re.compile(r"^\s*(?:translation|english|answer)\s*[:：]\s*", re.IGNORECASE)
# Chinese number words and the factor they scale by, for numbers a translation may rescale:
# 12.5億 is 1.25 billion, 7成 is 70%.
_SCALES = {"亿": 1e8, "万": 1e4, "成": 10.0}
_SCALED = re.compile(r"(\d+(?:\.\d+)?)\s*([亿万成])")


# A Chinese amount in 萬 (10^4) or 億 (10^8), in digits or numerals with a digit among them
# (「千萬不要」 and 「十萬火急」 are no amounts); 萬億 is left alone.
_CN_AMOUNT = re.compile(
    r"(\d[\d,]*(?:\.\d+)?|[零〇一二兩两三四五六七八九十百千]*[一二兩两三四五六七八九][零〇一二兩两三四五六七八九十百千]*)"
    r"\s*([億亿萬万])(?![億亿])"
)


def _in_english_scale(amount: float) -> str:
    """1.25e9 -> '1.25 billion', 7.7e8 -> '770 million', 1e4 -> '10,000'."""
    for scale, word in ((1e9, "billion"), (1e6, "million")):
        if amount >= scale:
            return f"{round(amount / scale, 6):g} {word}"
    return f"{round(amount):,}" if amount == round(amount) else f"{amount:g}"


def western_amounts(text: str) -> str:
    """Chinese amounts rewritten in thousands, millions and billions before a sentence is
    translated: 「12.5 億美元」 -> 「1.25 billion 美元」. Asked to translate 12.5億 the default
    model writes "12.5 billion" (ten times too much); given 1.25 billion it copies it."""

    def rewrite(match: re.Match[str]) -> str:
        number, unit = match.group(1), normalize_for_match(match.group(2))
        digits = number.replace(",", "")
        if not digits[0].isdigit():
            digits = chinese_numerals_as_digits(normalize_for_match(digits))
        return _in_english_scale(float(digits) * _SCALES[unit]) + " "

    return _CN_AMOUNT.sub(rewrite, text)


def for_translation(chinese: str) -> str:
    """A checked Chinese sentence as it is given to the model to translate into English: its
    amounts in English scale (western_amounts) and its counted numbers in digits (「三十日前」
    -> 「30日前」), so that the translation states them in digits ("30 days" rather than
    "thirty days"), which the number checks and readers compare directly."""
    return quantities_in_digits(western_amounts(chinese))


def clean_translation(text: str) -> str:
    """The translation alone: first line, no label, no quotes or markers the model added."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = _LABEL.sub("", lines[0]) if lines else ""
    return strip_markers(first).strip().strip("\"'“”「」").strip()


# An English amount with a scale word, the number in digits or words: "12.5 billion",
# "one million", "ten thousand", "a hundred million".
_EN_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_EN_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_EN_SCALED = re.compile(
    rf"\b(\d+(?:\.\d+)?|{'|'.join(_EN_NUMBER_WORDS)})\s+(hundred\s+)?"
    rf"({'|'.join(_EN_SCALES)})\b"
)


def _english_amounts(english: str) -> list[float]:
    """The values of the English amounts with a scale word: "12.5 billion" is 1.25e10."""
    found = []
    for number, hundred, scale in _EN_SCALED.findall(english.lower().replace(",", "")):
        value = float(_EN_NUMBER_WORDS.get(number) or number)
        found.append(value * (100 if hundred else 1) * _EN_SCALES[scale])
    return found


def keeps_numbers(english: str, chinese: str) -> bool:
    """Whether every number the translation states is one the Chinese sentence states,
    directly or rescaled (億 to millions or billions, 萬 to thousands or millions, 成 to %),
    and every amount it scales ("12.5 billion", "one million") has the value of one the
    Chinese states: 12.5億 is 1.25 billion, 一萬 is ten thousand."""
    allowed = set(passage_numbers(chinese))
    norm = normalize_for_match(chinese).replace(",", "")
    values = {float(n) for n in allowed}
    for value, unit in _SCALED.findall(chinese_numerals_as_digits(norm)):
        amount = float(value) * _SCALES[unit]
        values.add(amount)
        if amount.is_integer():  # 一萬 is 10,000 written out
            allowed.add(str(int(amount)))
        scales = (1.0,) if unit == "成" else (1e3, 1e6, 1e9)
        for scale in scales:
            allowed |= numbers(f"{amount / scale:g}")
    same = [any(abs(a - v) <= 1e-6 * a for v in values) for a in _english_amounts(english)]
    return numbers(english) <= allowed and all(same)
