"""The peer in `rag bench`: LlamaIndex over the same corpus, questions and models.

Run the way its documentation shows: SimpleDirectoryReader, VectorStoreIndex.from_documents
with its default chunking, `as_query_engine()` with its default prompts and top-k, the e5
model through HuggingFaceEmbedding (with e5's "query: "/"passage: " prompts) and the GGUF
through LlamaCPP. Two things are set because this machine needs them: the chat format of
the GGUF (LlamaCPP formats prompts for Llama 2 unless told otherwise) and greedy decoding
with our answer length, so that both systems decode alike. Installed only with the `bench`
extra; the core package never imports it.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.evaluate.metrics import is_correct, retrieval_metrics
from rag.evaluate.runner import EvalQuestion

PEER_INSTALL = "pip install -e '.[bench]'"
PEER_MODULES = (
    "llama_index.core",
    "llama_index.embeddings.huggingface",
    "llama_index.llms.llama_cpp",
)


def peer_missing() -> str | None:
    """None when LlamaIndex and its two integrations are importable, else what to install."""
    for name in PEER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return PEER_INSTALL
    return None


def chatml_prompt(completion: str, system: str | None = None) -> str:
    """A completion as a ChatML conversation (the Qwen GGUF's chat format)."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    return f"{head}<|im_start|>user\n{completion}<|im_end|>\n<|im_start|>assistant\n"


def chatml_messages(messages: Sequence[Any]) -> str:
    """LlamaIndex chat messages in ChatML."""
    parts = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def load_peer_models(
    embedding_folder: Path, gguf: Path, n_ctx: int, max_tokens: int, threads: int
) -> tuple[Any, Any]:
    """(embed_model, llm) for LlamaIndex: the same e5 folder and GGUF that `rag` uses."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    embed_model = HuggingFaceEmbedding(
        model_name=str(embedding_folder),
        query_instruction="query: ",
        text_instruction="passage: ",
        device="cpu",
    )
    llm = LlamaCPP(
        model_path=str(gguf),
        temperature=0.0,
        max_new_tokens=max_tokens,
        context_window=n_ctx,
        generate_kwargs={"repeat_penalty": 1.0},
        model_kwargs={"n_threads": threads, "n_threads_batch": threads},
        messages_to_prompt=chatml_messages,
        completion_to_prompt=chatml_prompt,
        verbose=False,
    )
    return embed_model, llm


def peer_runner(
    embedding_folder: Path | None, n_ctx: int, max_tokens: int, threads: int
) -> Callable[[Path, list[EvalQuestion], Path], dict[str, Any]]:
    """What `rag bench` calls as its peer: (corpus, questions, gguf) -> results, or
    {"skipped": why} when LlamaIndex is not installed or there is no e5 model to share."""

    def run(corpus: Path, questions: list[EvalQuestion], gguf: Path) -> dict[str, Any]:
        missing = peer_missing()
        if missing is not None:
            return {"skipped": missing}
        if embedding_folder is None:
            return {"skipped": "the peer shares the e5 model; run with embedder = e5"}
        from rag.cores import available_cores
        from rag.generate.prompts import is_refusal

        embed_model, llm = load_peer_models(
            embedding_folder, gguf, n_ctx, max_tokens, threads or available_cores()
        )
        return run_peer(corpus, questions, embed_model, llm, is_refusal=is_refusal)

    return run


def run_peer(
    corpus: Path,
    questions: Sequence[EvalQuestion],
    embed_model: Any,
    llm: Any,
    k: int = 5,
    is_refusal: Callable[[str], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Index `corpus` with LlamaIndex, then retrieve (top k) and answer every question."""
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex

    Settings.embed_model = embed_model
    Settings.llm = llm
    started = time.perf_counter()
    documents = SimpleDirectoryReader(str(corpus), recursive=True).load_data()
    index = VectorStoreIndex.from_documents(documents)
    index_s = time.perf_counter() - started
    # As `rag eval` counts: the first k distinct documents among 4k retrieved chunks.
    retriever = index.as_retriever(similarity_top_k=4 * k)
    engine = index.as_query_engine()
    root = corpus.resolve()
    records: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        ranked: list[str] = []
        for node in retriever.retrieve(q.question):
            source = Path(node.metadata.get("file_path", "")).resolve()
            doc = source.relative_to(root).as_posix() if source.is_relative_to(root) else ""
            if doc not in ranked:
                ranked.append(doc)
        t0 = time.perf_counter()
        answer = str(engine.query(q.question))
        total = time.perf_counter() - t0
        records.append(
            {
                "id": q.id,
                "answerable": q.answerable,
                "gold_sources": q.gold_sources if q.answerable else [],
                "retrieved": ranked[:k],
                "answer": answer,
                "correct": q.answerable and is_correct(answer, q.answers),
                "refused": bool(is_refusal and is_refusal(answer)),
                "total_s": round(total, 3),
            }
        )
        if progress:
            progress(i + 1, len(questions))
    return {
        "framework": _versions(),
        "chunk_size": Settings.chunk_size,
        "chunk_overlap": Settings.chunk_overlap,
        "nodes": len(index.docstore.docs),
        "index_s": round(index_s, 2),
        **summarize(records, k),
        "questions": records,
    }


def summarize(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """hit@1, hit@k, MRR, accuracy (answerable), refusals (unanswerable), p50 latency."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    out: dict[str, Any] = {"n": len(records)}
    metrics = retrieval_metrics(answerable, k)
    out.update({key: metrics[key] for key in ("hit@1", f"hit@{k}", "mrr")})
    out["accuracy"] = (
        round(sum(r["correct"] for r in answerable) / len(answerable), 4) if answerable else None
    )
    out["refused_unanswerable"] = (
        round(sum(r["refused"] for r in unanswerable) / len(unanswerable), 4)
        if unanswerable
        else None
    )
    totals = [r["total_s"] for r in records]
    out["total_s_p50"] = round(statistics.median(totals), 3) if totals else None
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ("llama-index-core", "llama-index-embeddings-huggingface", "llama-index-llms-llama-cpp")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "?"
    return found
