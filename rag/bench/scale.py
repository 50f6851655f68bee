"""Retrieval at scale for `rag bench`: synthetic corpora of N chunks, hybrid query latency,
memory, and what the HNSW store loses against exact search.

Texts are Chinese-like: words drawn from the bundled corpus's own word frequencies, with
its chunk lengths, so BM25 sees a realistic vocabulary and posting-list lengths. Vectors are
drawn from a Gaussian fitted to the bundled corpus's real passage vectors (its mean and
covariance, 10% shrunk to the identity), so they are as anisotropic as e5's. Having no
topical clusters, they are a hard case for HNSW: real corpora recall better. Queries are the
eval questions, embedded by the real embedder, so a measured query includes embedding it.

Each N is built in one subprocess and queried in another, so that memory figures are the
index's own and not what building left behind (`python -m rag.bench.scale build|query SPEC`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.embedder import Progress
from rag.errors import RagError
from rag.evaluate.metrics import percentile
from rag.index.build import IndexParams, write_index
from rag.index.faiss_store import FaissStore
from rag.index.load import load_index
from rag.index.store import StoreParams
from rag.ingest.chunking import Chunk, span_text
from rag.ingest.documents import Document
from rag.settings import Settings

CHUNKS_PER_DOC = 10
SHRINK = 0.1  # share of the identity mixed into the fitted covariance
EF_SWEEP = (32, 64, 128, 256, 512)
WARM_UP = 10  # untimed questions before timing


@dataclass(frozen=True)
class ScaleSpec:
    """Everything a worker needs to build or query one synthetic index; JSON-serialisable."""

    n: int
    work: str  # folder of this N's index
    corpus_texts: str  # JSON file: the real chunk texts words and lengths are drawn from
    base_vectors: str  # .npy file: the real passage vectors the Gaussian is fitted to
    questions: list[str]
    embedder: str  # settings.embedder: "e5" or "hash"
    models_dir: str
    threads: int
    hnsw_threshold: int
    hnsw_ef_search: int
    dense_weight: float
    store: str = "faiss"  # the backend: "faiss" or "milvus" (Milvus Lite in the index folder)
    top_k: int = 5
    repeats: int = 2  # timed passes over the questions, after WARM_UP untimed ones
    seed: int = 0


def synthetic_texts(real_texts: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """n texts of words drawn by the real texts' word frequencies, with their lengths."""
    from rag.index.lexical import jieba_tokenizer

    words = [w for t in real_texts for w in jieba_tokenizer().lcut(t) if w.strip()]
    if not words:
        raise ValueError("the corpus has no words to draw synthetic texts from")
    vocab, counts = np.unique(np.array(words), return_counts=True)
    rng = np.random.default_rng(seed)
    lengths = rng.choice([max(1, len(t)) for t in real_texts], size=n)
    mean_word = float(np.mean([len(w) for w in words]))
    drawn = rng.choice(
        len(vocab), size=int(lengths.sum() / mean_word * 1.3) + 64, p=counts / counts.sum()
    )
    word_len = np.array([len(w) for w in vocab])[drawn]
    ends = np.cumsum(word_len)
    texts: list[str] = []
    start = 0
    consumed = 0
    for length in lengths:
        stop = int(np.searchsorted(ends, consumed + length)) + 1
        if stop > len(drawn):  # ran out: start over from the beginning of the stream
            start, consumed, stop = 0, 0, int(np.searchsorted(ends, length)) + 1
        texts.append("".join(vocab[drawn[start:stop]].tolist()))
        consumed = int(ends[stop - 1])
        start = stop
    return texts


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors from a Gaussian with the mean and (shrunk) covariance of `base`."""
    base = np.asarray(base, dtype=np.float64)
    dim = base.shape[1]
    cov = np.cov(base, rowvar=False) if len(base) > 1 else np.zeros((dim, dim))
    cov = (1 - SHRINK) * cov + SHRINK * max(float(np.trace(cov)) / dim, 1e-6) * np.eye(dim)
    factor = np.linalg.cholesky(cov)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10_000):  # in blocks: 100k x 384 float64 at once is 300 MB
        size = min(10_000, n - start)
        block = base.mean(axis=0) + rng.standard_normal((size, dim)) @ factor.T
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_corpus(texts: Sequence[str]) -> tuple[list[Document], list[Chunk]]:
    """Documents of CHUNKS_PER_DOC texts, one line each, and one chunk per line."""
    documents: list[Document] = []
    chunks: list[Chunk] = []
    for first in range(0, len(texts), CHUNKS_PER_DOC):
        lines = texts[first : first + CHUNKS_PER_DOC]
        text = "\n".join(lines)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        doc = Document(f"synthetic/{first // CHUNKS_PER_DOC:06d}.txt", text, sha, "utf-8")
        documents.append(doc)
        start = 0
        for line in lines:
            end = start + len(line)
            chunk_id = hashlib.sha1(f"{sha}:{start}:{end}".encode()).hexdigest()[:16]
            chunks.append(Chunk(chunk_id, doc.id, start, end, line))
            start = end + 1
    return documents, chunks


def rss_mb(field: str = "VmRSS") -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def loadavg() -> float | None:
    """The 1-minute load average: how busy the machine was around a measurement."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _settings(spec: ScaleSpec) -> Settings:
    """The settings a worker process runs with (what of them the spec carries)."""
    return Settings(
        home=Path(spec.models_dir).parent,
        embedder=spec.embedder,
        threads=spec.threads,
        dense_weight=spec.dense_weight,
    ).validate()


def _embedder(spec: ScaleSpec) -> Any:
    from rag.pipeline import make_embedder

    return make_embedder(_settings(spec))


def build(spec: ScaleSpec) -> dict[str, Any]:
    """Generate N chunks and write them as an index; what it took."""
    started = time.perf_counter()
    real = json.loads(Path(spec.corpus_texts).read_text(encoding="utf-8"))
    texts = synthetic_texts(real, spec.n, spec.seed)
    vectors = synthetic_vectors(np.load(spec.base_vectors), spec.n, spec.seed)
    documents, chunks = synthetic_corpus(texts)
    generated = time.perf_counter()
    embedder = _embedder(spec)
    params = IndexParams(120, 0, embedder.model_id, vectors.shape[1])
    store = StoreParams(
        backend=spec.store,
        hnsw_threshold=spec.hnsw_threshold,
        hnsw_ef_search=spec.hnsw_ef_search,
    )
    write_index(Path(spec.work), documents, chunks, vectors, params, store)
    return {
        "chunks": len(chunks),
        "documents": len(documents),
        "chars_per_chunk": round(statistics.mean(len(t) for t in texts), 1),
        "generate_s": round(generated - started, 2),
        "build_s": round(time.perf_counter() - generated, 2),
        "build_peak_rss_mb": rss_mb("VmHWM"),
    }


def query(spec: ScaleSpec) -> dict[str, Any]:
    """Hybrid query latency (warm), memory, and recall of the store against exact search."""
    from rag.pipeline import make_retriever

    embedder = _embedder(spec)
    if hasattr(embedder, "warm_up"):
        embedder.warm_up()
    query_vectors = np.stack([embedder.embed_query(q) for q in spec.questions])
    rss_before = rss_mb()
    index = load_index(Path(spec.work), embedder.model_id)
    retriever = make_retriever(_settings(spec), embedder, index)
    retriever.search(spec.questions[0], spec.top_k)  # loads the store and BM25
    rss_loaded = rss_mb()
    for q in spec.questions[:WARM_UP]:
        retriever.search(q, spec.top_k)
    latencies: list[float] = []
    parts: dict[str, list[float]] = {"lexical_s": [], "dense_s": []}
    found: list[list[int]] = []
    for repeat in range(spec.repeats):
        for q in spec.questions:
            t0 = time.perf_counter()
            search = retriever.search(q, spec.top_k)
            latencies.append(time.perf_counter() - t0)
            for key in parts:
                parts[key].append(search.timings.get(key, 0.0))
            if repeat == 0:
                found.append([h.position for h in search.hits])
    result: dict[str, Any] = {
        "store": index.store.kind,
        "queries": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "lexical_ms_p50": round(statistics.median(parts["lexical_s"]) * 1000, 2),
        # Embedding the question, the vector search and the exact scoring of lexical-only
        # candidates; the rest of p50 is fusion.
        "dense_ms_p50": round(statistics.median(parts["dense_s"]) * 1000, 2),
        "rss_mb": rss_mb(),
        "index_rss_mb": None
        if rss_before is None or rss_loaded is None
        else round(rss_loaded - rss_before, 1),
    }
    result.update(_recall(index, retriever, spec, query_vectors, found))
    index.close()
    return result


def _recall(
    index: Any, retriever: Any, spec: ScaleSpec, queries: np.ndarray, fused: list[list[int]]
) -> dict[str, Any]:
    """Dense recall@10 of the store against exact search, and how often the hybrid top-k
    (`fused`, found with the store) is the same set with exact search."""
    store = index.store
    exact = FaissStore.build(np.asarray(index.vectors()), StoreParams(hnsw_threshold=2**62))
    truth = [set(exact.search(q, 10)[1].tolist()) for q in queries]

    def recall_at_10() -> float:
        found = sum(
            len(t & set(store.search(q, 10)[1].tolist()))
            for q, t in zip(queries, truth, strict=True)
        )
        return round(found / (10 * len(queries)), 4)

    out: dict[str, Any] = {"recall_vs_exact": recall_at_10()}
    index.store = exact
    fused_exact = [
        [h.position for h in retriever.search(q, spec.top_k).hits] for q in spec.questions
    ]
    index.store = store
    same = sum(set(a) == set(b) for a, b in zip(fused, fused_exact, strict=True))
    out["hybrid_same_top_k"] = round(same / len(spec.questions), 4)
    if "hnsw" in store.kind:  # faiss-hnsw-ip, milvus-hnsw-ip
        sweep = []
        for ef in EF_SWEEP:
            store.set_ef_search(ef)
            t0 = time.perf_counter()
            recall = recall_at_10()
            per_query = (time.perf_counter() - t0) / len(queries)
            sweep.append(
                {"ef_search": ef, "recall_at_10": recall, "search_ms": round(per_query * 1000, 3)}
            )
        store.set_ef_search(spec.hnsw_ef_search)
        out["ef_sweep"] = sweep
    return out


def run(spec: ScaleSpec, progress: Progress | None = None) -> dict[str, Any]:
    """Build then query one N, each in a fresh Python process; merged results."""
    Path(spec.work).mkdir(parents=True, exist_ok=True)
    spec_file = Path(spec.work) / "spec.json"
    spec_file.write_text(json.dumps(asdict(spec), ensure_ascii=False), encoding="utf-8")
    result: dict[str, Any] = {}
    for step in ("build", "query"):
        result.update(_worker(step, spec_file))
        if progress:
            progress(1 if step == "build" else 2, 2)
    return result


def _worker(step: str, spec_file: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "rag.bench.scale", step, str(spec_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RagError(f"The bench worker '{step}' for {spec_file.parent} failed:\n{tail}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def bench_retrieval(
    settings: Settings,
    options: Any,
    index_dir: Path,
    questions: Sequence[Any],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Latency, memory and recall for each synthetic size N (see rag.bench.scale)."""
    index = load_index(index_dir)
    base = options.work / "scale-base"
    base.mkdir(parents=True, exist_ok=True)
    texts_file = base / "texts.json"
    texts_file.write_text(
        json.dumps([span_text(c) for c in index.chunks], ensure_ascii=False), encoding="utf-8"
    )
    np.save(base / "vectors.npy", np.asarray(index.vectors()))
    out: dict[str, Any] = {}
    for n in options.sizes:
        say(f"retrieval at {n:,} synthetic chunks")
        work = options.work / f"scale-{n}"
        shutil.rmtree(work, ignore_errors=True)
        spec = ScaleSpec(
            n=n,
            work=str(work),
            corpus_texts=str(texts_file),
            base_vectors=str(base / "vectors.npy"),
            questions=[q.question for q in questions],
            embedder=settings.embedder,
            models_dir=str(settings.models_dir),
            threads=settings.threads,
            hnsw_threshold=settings.hnsw_threshold,
            hnsw_ef_search=settings.hnsw_ef_search,
            dense_weight=settings.dense_weight,
            store=settings.store or "faiss",
        )
        load_before = loadavg()
        result = run(spec)
        result["loadavg_1m"] = [load_before, loadavg()]
        out[str(n)] = result
        shutil.rmtree(work, ignore_errors=True)  # 100k chunks take ~0.4 GB on disk
    return out


def main(argv: Sequence[str]) -> int:
    """Worker entry point: `python -m rag.bench.scale build|query SPEC.json`, JSON on stdout."""
    step, spec_file = argv
    spec = ScaleSpec(**json.loads(Path(spec_file).read_text(encoding="utf-8")))
    result = build(spec) if step == "build" else query(spec)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
