from __future__ import annotations

from rag.ingest.chunking import Chunk
from rag.retrieve.fusion import fuse
from rag.retrieve.retriever import overlaps


def test_weight_zero_is_lexical_order() -> None:
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    lexical = {3: 12.0, 2: 5.0, 1: 1.0}
    assert [c for c, _ in fuse(dense, lexical, 0.0)] == [3, 2, 1]
    assert [c for c, _ in fuse(dense, lexical, 1.0)] == [1, 2, 3]


def test_agreement_beats_one_strong_side() -> None:
    dense = {1: 0.90, 2: 0.85, 3: 0.20, 4: 0.10}
    lexical = {2: 9.0, 5: 10.0, 6: 1.0, 7: 0.5}
    order = [c for c, _ in fuse(dense, lexical, 0.5)]
    assert order[0] == 2


def test_candidate_missing_from_a_side_gets_its_floor() -> None:
    fused = dict(fuse({1: 0.9, 2: 0.1}, {3: 5.0, 4: 1.0}, 0.5))
    assert set(fused) == {1, 2, 3, 4}
    assert fused[1] == fused[3]


def test_empty_lexical_side_leaves_dense_order() -> None:
    assert [c for c, _ in fuse({1: 0.2, 2: 0.8}, {}, 0.3)] == [2, 1]


def test_overlap_is_per_document() -> None:
    a = Chunk("a", "d1", 0, 10, "x" * 10)
    b = Chunk("b", "d1", 5, 15, "x" * 10)
    c = Chunk("c", "d2", 5, 15, "x" * 10)
    d = Chunk("d", "d1", 10, 20, "x" * 10)
    assert overlaps(a, b) and not overlaps(a, c) and not overlaps(a, d)


def test_latin_question_over_chinese_corpus_goes_dense(tiny_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rag.embed.embedder import HashEmbedder
    from rag.index.build import build_index
    from rag.index.load import load_index
    from rag.retrieve.retriever import Retriever

    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    index = load_index(tmp_path / "idx")
    hybrid = Retriever(index, HashEmbedder(), 0.5)
    assert hybrid.weight_for("Who runs Taiwan AI Cloud?") == 1.0
    assert hybrid.weight_for("台智雲的總經理是誰？") == 0.5
    assert Retriever(index, HashEmbedder(), 0.0).weight_for("Who runs it?") == 0.0


def test_top_positions_equals_stable_argsort_with_ties() -> None:
    import numpy as np

    from rag.retrieve.fusion import top_positions

    rng = np.random.default_rng(3)
    # Few distinct values: many ties, also across the n-th place.
    scores = rng.integers(0, 6, size=500).astype(np.float32)
    for n in (1, 7, 50, 499, 500, 800):
        expected = np.argsort(-scores, kind="stable")[:n]
        assert top_positions(scores, n).tolist() == expected.tolist()


def test_warm_up_in_background_loads_and_reraises(tiny_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from rag.embed.embedder import HashEmbedder
    from rag.index.build import build_index
    from rag.index.load import load_index
    from rag.retrieve.retriever import Retriever

    class Broken(HashEmbedder):
        def warm_up(self) -> None:
            raise RuntimeError("model folder unreadable")

    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    index = load_index(tmp_path / "idx")
    Retriever(index, HashEmbedder(), 0.5).warm_up_in_background()()
    assert index._store is not None and index._bm25 is not None
    wait = Retriever(load_index(tmp_path / "idx"), Broken(), 0.5).warm_up_in_background()
    with pytest.raises(RuntimeError, match="unreadable"):
        wait()


def test_english_words_are_stemmed_and_an_older_index_is_queried_as_built(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rag.index.lexical import UNSTEMMED_ID, BM25Index, tokenize

    assert tokenize("Stashing changes") == ["stash", "chang"]
    assert tokenize("git 2.0 AI 晶片")[:3] == ["git", "2.0", "ai"]  # short words, numbers kept
    texts = ["You can list the stashes you have stored.", "Rebase the branch onto main."]
    index = BM25Index.build(texts, 1.2, 0.75)
    index.save(tmp_path)
    scores = BM25Index.load(tmp_path).scores("how do I list my stashed work")
    assert scores[0] > scores[1]
    # An index built before stemming (tokenizer v1) holds the words as written: queried as
    # built, "stashes" still finds it, and a stemmed query would not.
    old = BM25Index.build(texts, 1.2, 0.75, lambda t: tokenize(t, stemmed=False))
    old.save(tmp_path / "v1")
    assert BM25Index.load(tmp_path / "v1", UNSTEMMED_ID).scores("stashes")[0] > 0
    assert BM25Index.load(tmp_path / "v1").scores("stashes")[0] == 0
