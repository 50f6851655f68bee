"""The one builder: the embedder, index, vector store, generator, retriever and answerer made
from Settings. Every entry point (CLI commands, eval, bench, the server) gets its parts here;
none assembles them itself.

Construction is cheap where it can be and heavy work is explicit: `build_pipeline` loads the
models once (the retriever's warm-up overlaps with loading the answer model); progress and
notices go to the callbacks the caller passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.answer.answerer import Answerer
from rag.embed.embedder import E5Embedder, Embedder, HashEmbedder
from rag.errors import ModelError
from rag.generate.base import Generator
from rag.index.build import BuildReport, build_index
from rag.index.load import Index, load_index
from rag.retrieve.retriever import Retriever
from rag.settings import Settings

Notice = Callable[[str], None]
Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)


def _quiet(_message: str) -> None:
    """A notice nobody asked to see."""


def make_embedder(settings: Settings, notice: Notice | None = None) -> Embedder:
    """The configured embedder (not loaded yet); `notice` hears about a first-use conversion."""
    if settings.embedder == "hash":
        return HashEmbedder()
    return E5Embedder(
        settings.models_dir, settings.embed_batch, settings.threads, on_prepare=notice
    )


def open_index(settings: Settings, embedder: Embedder, index_dir: Path | None = None) -> Index:
    """The live build of the configured index, checked against the embedder's model."""
    return load_index(index_dir or settings.index, embedder.model_id, settings.milvus_token)


def make_retriever(
    settings: Settings, embedder: Embedder | None = None, index: Index | None = None
) -> Retriever:
    """A retriever over the configured index (or `index`) with the configured fusion."""
    embedder = embedder or make_embedder(settings)
    index = index or open_index(settings, embedder)
    return Retriever(index, embedder, settings.dense_weight)


def make_generator(
    settings: Settings,
    *,
    no_llm: bool = False,
    progress: Progress | None = None,
    on_fallback: Notice | None = None,
) -> Generator | None:
    """The answer model, loaded; None for `no_llm`, or (told to `on_fallback`) when the
    default model or llama-cpp-python is not available. A model the user named must work,
    and so must a server (`llm_url`): ModelError if it does not answer, never the local model.
    `progress` follows the default model's assembly on first use."""
    if no_llm:
        return None
    if settings.llm_url:
        from rag.generate.openai_http import OpenAIGenerator

        remote = OpenAIGenerator(settings.llm_url, settings.llm_model, settings.llm_api_key)
        remote.warm_up()
        return remote
    from rag.generate.llama import LlamaGenerator
    from rag.generate.provision import resolve_model

    try:
        path = resolve_model(settings.model, settings.models_dir, progress)
        generator = LlamaGenerator(path, n_ctx=settings.n_ctx, n_threads=settings.threads)
        generator.warm_up()
    except ModelError as exc:
        if settings.model is not None:
            raise
        (on_fallback or _quiet)(
            f"no language model ({exc}) Answering with the most relevant sentences instead "
            "(--no-llm)."
        )
        return None
    return generator


def make_answerer(
    settings: Settings, retriever: Retriever, generator: Generator | None
) -> Answerer:
    """The answer steps over this retriever and generator, as the settings say."""
    return Answerer.from_settings(retriever, generator, settings)


@dataclass
class Pipeline:
    """Everything a question needs, loaded once and shared by the questions that follow."""

    settings: Settings
    embedder: Embedder
    index: Index
    retriever: Retriever
    generator: Generator | None
    answerer: Answerer

    def close(self) -> None:
        """Release the vector store and the model."""
        self.index.close()
        close = getattr(self.generator, "close", None)
        if close is not None:
            close()


def build_pipeline(
    settings: Settings,
    *,
    no_llm: bool = False,
    notice: Notice | None = None,
    model_progress: Progress | None = None,
    on_fallback: Notice | None = None,
    index_dir: Path | None = None,
) -> Pipeline:
    """Load the index, the embedder and the answer model; the retriever warms up while the
    answer model loads (llama.cpp loads in C without holding the GIL)."""
    embedder = make_embedder(settings, notice)
    index = open_index(settings, embedder, index_dir)
    retriever = Retriever(index, embedder, settings.dense_weight)
    warming = retriever.warm_up_in_background()
    generator = make_generator(
        settings, no_llm=no_llm, progress=model_progress, on_fallback=on_fallback
    )
    warming()
    answerer = make_answerer(settings, retriever, generator)
    return Pipeline(settings, embedder, index, retriever, generator, answerer)


def index_folder(
    settings: Settings,
    *,
    corpus: Path | None = None,
    index_dir: Path | None = None,
    rebuild: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
    notice: Notice | None = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Build or update an index of a folder with the configured embedder and store."""
    return build_index(
        corpus or settings.corpus,
        index_dir or settings.index,
        embedder or make_embedder(settings, notice),
        settings.chunk_chars,
        settings.chunk_overlap,
        rebuild=rebuild,
        progress=progress,
        options=settings.extract_options(),
        strict=strict,
        store_params=settings.store_params(),
        headings=settings.index_headings,
    )


def prepare_models(settings: Settings, notice: Notice | None = None) -> tuple[Path, Path]:
    """Convert the embedding model and assemble and verify the answer model now."""
    from rag.embed.e5convert import ensure_model
    from rag.generate.provision import resolve_model

    folder = ensure_model(settings.models_dir / "multilingual-e5-small", progress=notice)
    (notice or _quiet)("Checking the answer model (sha256 of 1.1 GB on first use)")
    return folder, resolve_model(settings.model, settings.models_dir)
