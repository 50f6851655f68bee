from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.embed.embedder import HashEmbedder, Progress
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever


class CountingEmbedder(HashEmbedder):
    """Records how many passages it was asked to embed; can fail on demand."""

    def __init__(self, fail: bool = False):
        super().__init__()
        self.embedded = 0
        self.fail = fail

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if self.fail:
            raise RuntimeError("disk full")
        self.embedded += len(texts)
        return super().embed_passages(texts, progress)


def _build(corpus: Path, index: Path, embedder: HashEmbedder | None = None, **kw: object):
    return build_index(corpus, index, embedder or CountingEmbedder(), 60, 1, **kw)  # type: ignore[arg-type]


def test_build_then_search(tiny_corpus: Path, tmp_path: Path) -> None:
    report = _build(tiny_corpus, tmp_path / "idx")
    assert report.documents == 3 and report.chunks >= 3
    index = load_index(tmp_path / "idx", HashEmbedder.model_id)
    manifest = index.manifest
    assert set(manifest["documents"]) == {"food.txt", "sub/europe.md", "taiwan.txt"}
    assert manifest["params"]["embedding_model"] == HashEmbedder.model_id
    assert manifest["params"]["chunk_chars"] == 60
    hits = Retriever(index, HashEmbedder(), 0.5).search("台灣的超級電腦排名第幾？", 3).hits
    assert hits[0].source == "taiwan.txt"
    # Offsets point into the original document.
    original = (tiny_corpus / "taiwan.txt").read_text(encoding="utf-8")
    assert original[hits[0].chunk.start : hits[0].chunk.end] == hits[0].chunk.text


def test_a_question_naming_the_document_finds_a_passage_that_does_not(tmp_path: Path) -> None:
    corpus = tmp_path / "laws"
    corpus.mkdir()
    # Two laws whose articles read alike; only the first line (the title) names the law.
    articles = "\n".join(f"第 {n} 條 本條規定其他事項之辦理方式。" for n in range(1, 9))
    laws = {
        "勞工請假規則": "第 9 條 事假一年內合計不得超過十四日。",
        "公務人員請假規則": "第 9 條 事假一年內合計不得超過七日。",
    }
    for name, article in laws.items():
        text = f"{name}\n{articles}\n{article}\n"
        (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    question = "勞工請假規則的事假一年最多幾天？"
    ranked = {}
    for headings in (True, False):
        index_dir = tmp_path / f"idx-{headings}"
        _build(corpus, index_dir, headings=headings)
        index = load_index(index_dir)
        assert index.manifest["params"]["headings"] is headings
        hits = Retriever(index, None, 0.0).search(question, 3).hits
        ranked[headings] = [h.source for h in hits if "事假" in h.chunk.text]
        if headings:
            assert "事假" in hits[0].chunk.text
    # Without the title the neighbouring law's article ranks above the one asked about.
    assert ranked == {
        True: ["勞工請假規則.txt", "公務人員請假規則.txt"],
        False: ["公務人員請假規則.txt", "勞工請假規則.txt"],
    }


def test_index_headings_setting_reaches_the_build(tiny_corpus: Path, tmp_path: Path) -> None:
    from rag.pipeline import index_folder
    from rag.settings import load_settings

    env = {"RAG_INDEX_HEADINGS": "true", "RAG_EMBEDDER": "hash"}
    settings = load_settings({"corpus": tiny_corpus, "index": tmp_path / "idx"}, env=env)
    index_folder(settings)
    index = load_index(tmp_path / "idx")
    assert index.manifest["params"]["headings"] is True
    europe = [c for c in index.chunks if c.doc_id == "sub/europe.md"]
    assert europe and all(c.heading for c in europe)


def test_simplified_question_reaches_traditional_text(tiny_corpus: Path, tmp_path: Path) -> None:
    _build(tiny_corpus, tmp_path / "idx")
    index = load_index(tmp_path / "idx")
    hits = Retriever(index, None, 0.0).search("台湾的超级电脑是谁建造的", 2).hits
    assert hits[0].source == "taiwan.txt"
    assert hits[0].lexical_score and hits[0].lexical_score > 0


def test_incremental_reuses_unchanged_and_drops_removed(tiny_corpus: Path, tmp_path: Path) -> None:
    first = CountingEmbedder()
    _build(tiny_corpus, tmp_path / "idx", first)
    assert first.embedded > 0
    again = CountingEmbedder()
    report = _build(tiny_corpus, tmp_path / "idx", again)
    assert again.embedded == 0 and report.unchanged == 3
    (tiny_corpus / "food.txt").write_text("牛肉麵是台灣名菜。", encoding="utf-8")
    (tiny_corpus / "sub" / "europe.md").unlink()
    changed = CountingEmbedder()
    report = _build(tiny_corpus, tmp_path / "idx", changed)
    assert changed.embedded == 1
    assert report.changed == ["food.txt"] and report.removed == ["sub/europe.md"]
    assert set(load_index(tmp_path / "idx").manifest["documents"]) == {"food.txt", "taiwan.txt"}
    forced = CountingEmbedder()
    _build(tiny_corpus, tmp_path / "idx", forced, rebuild=True)
    assert forced.embedded == report.chunks


def test_failed_build_keeps_previous_index(tiny_corpus: Path, tmp_path: Path) -> None:
    _build(tiny_corpus, tmp_path / "idx")
    before = load_index(tmp_path / "idx").manifest
    (tiny_corpus / "new.txt").write_text("新的文件。", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"):
        _build(tiny_corpus, tmp_path / "idx", CountingEmbedder(fail=True))
    after = load_index(tmp_path / "idx")
    assert after.manifest == before
    leftovers = [p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith(".build")]
    assert leftovers == []


def test_missing_index_says_run_rag_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        load_index(tmp_path / "nothing")


def test_other_embedding_model_is_a_named_mismatch(tiny_corpus: Path, tmp_path: Path) -> None:
    _build(tiny_corpus, tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match=r"hash-ngram-v1.*other-model"):
        load_index(tmp_path / "idx", "other-model")


def test_format_version_mismatch_and_corrupt_manifest(tiny_corpus: Path, tmp_path: Path) -> None:
    _build(tiny_corpus, tmp_path / "idx")
    build = load_index(tmp_path / "idx").folder
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (build / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 999"):
        load_index(tmp_path / "idx")
    (build / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest"):
        load_index(tmp_path / "idx")


def test_corrupt_vector_file_is_reported(tiny_corpus: Path, tmp_path: Path) -> None:
    _build(tiny_corpus, tmp_path / "idx")
    index = load_index(tmp_path / "idx")
    (index.folder / "dense.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match=r"dense\.faiss"):
        Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.5).search("晶創26", 3)
