"""Lexical side: one tokenizer for both scripts (OpenCC t2s, jieba, character bigrams), BM25."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.segment import CJK_RUN, QUERY_STOPWORDS, WORD, jieba_tokenizer
from rag.textnorm import normalize_for_match

# v2: English words stemmed. An index keeps the tokenizer it was built with (its manifest's
# `params.tokenizer`) and is queried with the same one.
TOKENIZER_ID = "t2s-jieba-bigram-stem-v2"
UNSTEMMED_ID = "t2s-jieba-bigram-v1"


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case English word of four letters or more:
    "stashed", "stashes" and "stashing" all match "stash". Numbers, short words and words
    with digits stay as written."""
    return str(_stemmer().stemWord(word)) if word.isalpha() and len(word) > 3 else word


def tokenize(text: str, *, query: bool = False, stemmed: bool = True) -> list[str]:
    """Words (jieba on the Simplified form) plus CJK character bigrams; lower-case ASCII words,
    stemmed (`stemmed`, tokenizer v2).

    Bigrams let names and numbers match even where jieba segments them differently.
    """
    norm = normalize_for_match(text)
    tokens: list[str] = []
    for piece in WORD.findall(norm):
        if CJK_RUN.fullmatch(piece):
            words = [w for w in jieba_tokenizer().lcut(piece) if w.strip()]
            if query:
                words = [w for w in words if w not in QUERY_STOPWORDS]
            tokens.extend(words)
            if len(piece) > 1:
                tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
            else:
                tokens.append(piece)
        elif not (query and piece in QUERY_STOPWORDS):
            tokens.append(stem(piece) if stemmed else piece)
    return tokens


class BM25Index:
    """BM25 over pre-tokenized chunks, backed by bm25s; scores every chunk for a query."""

    def __init__(self, model: Any, vocab: dict[str, int], stemmed: bool = True):
        self._model = model
        self._vocab = vocab
        self._stemmed = stemmed

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        k1: float,
        b: float,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> BM25Index:
        import bm25s

        corpus_tokens = [tokenizer(t) or ["\u2205"] for t in texts]
        model = bm25s.BM25(k1=k1, b=b)
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in corpus_tokens]
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(model, vocab)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in index order (zeros when nothing matches)."""
        words = tokenize(query, query=True, stemmed=self._stemmed)
        known = [self._vocab[t] for t in words if t in self._vocab]
        if not known:
            return np.zeros(self._model.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)
        (folder / "rag_vocab.json").write_text(json.dumps(self._vocab, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, tokenizer: str = TOKENIZER_ID) -> BM25Index:
        """The index in `folder`, queried with the `tokenizer` it was built with."""
        import bm25s

        model = bm25s.BM25.load(str(folder), show_progress=False, load_vocab=False)
        vocab = json.loads((folder / "rag_vocab.json").read_text(encoding="utf-8"))
        return cls(model, vocab, stemmed=tokenizer != UNSTEMMED_ID)
