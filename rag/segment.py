"""Chinese word segmentation shared by the lexical index and the answer checks: jieba on
the normalised (Simplified, lower-case) text, its part-of-speech tagger, and the question
words that carry no topic."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from rag.textnorm import HAN, normalize_for_match

CJK_RUN = re.compile(f"[{HAN}]+")
WORD = re.compile(f"[0-9a-z]+(?:[.\\-_][0-9a-z]+)*|[{HAN}]+")
# Question words and particles carry no topic; dropping them from queries keeps BM25 from
# preferring passages that merely contain 什么 or 哪. Simplified forms: queries are t2s'd first.
_STOPWORDS = (
    "什么 甚么 哪 哪个 哪些 哪里 哪儿 哪一 哪位 哪家 哪年 "
    "谁 如何 怎么 怎样 为何 为什么 多少 几 几个 是否 吗 "
    "呢 吧 的 了 是 在 有 和 与 及 请问 请 一下 那个 "
    "这个 那些 这些 说 提到 文中 文章 根据 资料 何 何时 "
    "何者 "
    "what which who whom whose when where why how is are was were the a an of in on to "
    "for does do did by and or with about according "
)
QUERY_STOPWORDS = frozenset(_STOPWORDS.split())


@lru_cache(maxsize=1)
def jieba_tokenizer() -> Any:
    """One initialised jieba tokenizer for the process (its dictionary takes ~1 s to load)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@lru_cache(maxsize=1)
def pos_tagger() -> Any:
    """jieba's part-of-speech tagger on the shared tokenizer."""
    import jieba.posseg

    return jieba.posseg.POSTokenizer(jieba_tokenizer())


def segment(text: str) -> list[str]:
    """jieba words of the normalised (Simplified, lower-case) text, ASCII words kept whole."""
    words: list[str] = []
    for piece in WORD.findall(normalize_for_match(text)):
        if CJK_RUN.fullmatch(piece):
            words.extend(w for w in jieba_tokenizer().lcut(piece) if w.strip())
        else:
            words.append(piece)
    return words
