from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.embed.embedder import HashEmbedder
from rag.errors import IndexCorruptError
from rag.index.build import build_index
from rag.index.faiss_store import FaissStore
from rag.index.load import load_index
from rag.index.store import FLAT, HNSW, StoreParams
from rag.retrieve.retriever import Retriever


def _vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_below_threshold_hnsw_at_it() -> None:
    params = StoreParams(hnsw_threshold=100)
    assert FaissStore.build(_vectors(99), params).kind == FLAT
    hnsw = FaissStore.build(_vectors(100), params)
    assert hnsw.kind == HNSW
    assert hnsw.describe()["hnsw_ef_search"] == params.hnsw_ef_search


def test_hnsw_recall_against_exact(tmp_path: Path) -> None:
    vectors = _vectors(2000)
    queries = _vectors(50, seed=1)
    exact = FaissStore.build(vectors, StoreParams(hnsw_threshold=10**6))
    hnsw = FaissStore.build(vectors, StoreParams(hnsw_threshold=10))
    hnsw.save(tmp_path)
    loaded = FaissStore.load(tmp_path, hnsw.describe())
    assert loaded.kind == HNSW
    recall = {}
    for ef in (1, 128):
        loaded.set_ef_search(ef)
        found = 0
        for q in queries:
            truth = set(exact.search(q, 10)[1].tolist())
            found += len(truth & set(loaded.search(q, 10)[1].tolist()))
        recall[ef] = found / (10 * len(queries))
    # A wide search finds nearly every true neighbour; a narrow one visibly fewer.
    assert recall[128] >= 0.95
    assert recall[1] < recall[128]


def test_manifest_records_store_and_mismatch_is_reported(tiny_corpus: Path, tmp_path: Path) -> None:
    build_index(
        tiny_corpus,
        tmp_path / "idx",
        HashEmbedder(),
        60,
        1,
        store_params=StoreParams(hnsw_threshold=2, hnsw_ef_search=64),
    )
    index = load_index(tmp_path / "idx")
    assert index.manifest["store"]["kind"] == HNSW
    assert index.manifest["store"]["hnsw_ef_search"] == 64
    assert index.store.kind == HNSW
    hits = Retriever(index, HashEmbedder(), 0.5).search("台灣的超級電腦排名第幾？", 2).hits
    assert hits[0].source == "taiwan.txt"

    manifest_path = index.folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["store"]["kind"] = FLAT
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="names a 'faiss-flat-ip' vector index"):
        _ = load_index(tmp_path / "idx").store


def test_default_build_stays_exact(tiny_corpus: Path, tmp_path: Path) -> None:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 1)
    assert load_index(tmp_path / "idx").manifest["store"]["kind"] == FLAT


def test_threshold_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.errors import ConfigError
    from rag.settings import load_settings

    monkeypatch.setenv("RAG_HNSW_THRESHOLD", "5")
    assert load_settings().store_params().kind_for(5) == HNSW
    monkeypatch.setenv("RAG_HNSW_THRESHOLD", "0")
    with pytest.raises(ConfigError, match="hnsw_threshold"):
        load_settings()


def test_manifest_with_kind_string_still_loads(tmp_path: Path) -> None:
    FaissStore.build(_vectors(10)).save(tmp_path)
    assert FaissStore.load(tmp_path, FLAT).kind == FLAT
    with pytest.raises(IndexCorruptError, match="Rebuild"):
        FaissStore.load(tmp_path, HNSW)
