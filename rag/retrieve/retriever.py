"""Hybrid retrieval over one loaded index: dense and BM25 candidates, fused by weighted
z-scores (rag.retrieve.fusion), overlapping passages removed. A search returns what it
searched (other names, timings) with its hits; nothing of a query is kept on the retriever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.embed.embedder import Embedder
from rag.errors import QueryError
from rag.index.load import Index
from rag.ingest.chunking import Chunk
from rag.retrieve.fusion import fuse, top_positions
from rag.textnorm import has_han

CANDIDATES = 50  # per side, before fusion


@dataclass(frozen=True)
class Hit:
    rank: int
    chunk: Chunk
    score: float
    dense_score: float | None
    lexical_score: float | None
    position: int = -1  # the chunk's row in the index

    @property
    def source(self) -> str:
        return self.chunk.doc_id


@dataclass
class Search:
    """One search: its hits, best first, and what was searched besides the query."""

    hits: list[Hit]
    # Other names of things the query named (rag.index.aliases), searched for with it.
    also_searched: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def overlaps(a: Chunk, b: Chunk) -> bool:
    """Whether two chunks share characters of the same document."""
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


class Retriever:
    """Searches one loaded index with one embedder. `dense_weight` 0 is BM25 alone, 1 dense."""

    def __init__(self, index: Index, embedder: Embedder | None, dense_weight: float):
        if embedder is None and dense_weight > 0:
            raise ValueError("a dense weight above 0 needs an embedder")
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.last_timings: dict[str, float] = {}
        # Other names of things the last query named (rag.index.aliases), searched for with it.
        self.last_other_names: list[str] = []
        self._chinese_corpus: bool | None = None

    def warm_up(self) -> None:
        """Load what a first search needs: the embedding model, the vector store, BM25, jieba."""
        from rag.index.lexical import jieba_tokenizer

        warm = getattr(self.embedder, "warm_up", None)
        if warm is not None:
            warm()
        _ = self.index.store, self.index.bm25
        jieba_tokenizer()

    def warm_up_in_background(self) -> Callable[[], None]:
        """Start `warm_up` in a thread; returns a function that waits for it (and re-raises).

        Meant to overlap with loading the answer model: llama.cpp loads in C without holding
        the GIL, so on a cold `rag ask` the two take the time of the longer one.
        """
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self.warm_up()
            except BaseException as exc:  # handed to the waiting thread
                errors.append(exc)

        thread = threading.Thread(target=run, name="retriever-warm-up", daemon=True)
        thread.start()

        def wait() -> None:
            thread.join()
            if errors:
                raise errors[0]

        return wait

    @property
    def chinese_corpus(self) -> bool:
        """Whether the index holds a Chinese corpus (rag.index.load.CHINESE_CORPUS)."""
        return self.index.chinese

    def document_text(self, doc_id: str) -> str:
        """The whole extracted text of a document that a hit comes from."""
        return self.index.document_text(doc_id)

    def document_title(self, doc_id: str) -> str:
        """The title a document gives itself (its metadata or first line), else ""."""
        record = self.index.manifest.get("documents", {}).get(doc_id, {})
        return str(record.get("title") or "")

    def weight_for(self, query: str) -> float:
        """The dense weight for this query. A question with no Chinese characters over a
        Chinese corpus shares only stray Latin tokens with it (AI, Taiwan), which misleads
        BM25; there the dense side, which crosses languages, decides alone. Only in hybrid
        mode: an explicit 0 or 1 is kept (ablations)."""
        hybrid = 0 < self.dense_weight < 1
        if hybrid and not has_han(query) and self.chinese_corpus:
            return 1.0
        return self.dense_weight

    def search(self, query: str, top_k: int) -> Search:
        """The top_k fused chunks, best first, no two overlapping in the same document."""
        if not query.strip():
            raise QueryError(
                "The question is empty. Ask something, e.g. rag search '主權AI是什麼？'"
            )
        n = max(CANDIDATES, top_k * 4)
        weight = self.weight_for(query)
        t0 = time.perf_counter()
        other_names = self.index.aliases.other_names(query)
        if other_names:
            query = f"{query} {' '.join(other_names)}"
        candidates: set[int] = set()
        all_lexical = None
        if weight < 1:
            all_lexical = self.index.bm25.scores(query)
            top = top_positions(all_lexical, n)
            candidates = {int(i) for i in top if all_lexical[i] > 0}
        t1 = time.perf_counter()
        dense: dict[int, float] = {}
        if weight > 0:
            assert self.embedder is not None
            vector = self.embedder.embed_query(query)
            scores, positions = self.index.store.search(vector, n)
            dense = {int(p): float(s) for s, p in zip(scores, positions, strict=True) if p >= 0}
            # Score lexical-only candidates exactly too, so that both sides rank one pool.
            missing = sorted(candidates - set(dense))
            if missing:
                extra = np.asarray(self.index.vectors()[missing]) @ vector
                dense.update(zip(missing, extra.astype(float).tolist(), strict=True))
            candidates |= set(dense)
        lexical: dict[int, float] = {}
        if all_lexical is not None:
            lexical = {c: float(all_lexical[c]) for c in candidates}
        t2 = time.perf_counter()
        hits: list[Hit] = []
        for position, score in fuse(dense, lexical, weight):
            chunk = self.index.chunks[position]
            if any(overlaps(chunk, h.chunk) for h in hits):
                continue
            hits.append(
                Hit(
                    len(hits) + 1,
                    chunk,
                    score,
                    dense.get(position),
                    lexical.get(position),
                    position,
                )
            )
            if len(hits) == top_k:
                break
        return Search(hits, other_names, {"lexical_s": t1 - t0, "dense_s": t2 - t1})


def rank_documents(hits: list[Hit]) -> list[str]:
    """Document ids in the order of their best chunk."""
    seen: list[str] = []
    for hit in hits:
        if hit.source not in seen:
            seen.append(hit.source)
    return seen
