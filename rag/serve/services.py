"""The services the routers share, built once when the server starts: the loaded knowledge
bases (one embedder and one answer model for all, from rag.pipeline), the queue in front of
the model, and the background indexer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from rag.errors import RagError
from rag.generate.base import Generator
from rag.pipeline import make_embedder, make_generator
from rag.serve.engines import Engines
from rag.serve.indexer import Indexer
from rag.serve.kb import get_kb, list_kbs, reindex
from rag.serve.queue import Cancellable, GenerationQueue
from rag.serve.security import ServeConfig
from rag.settings import Settings

log = logging.getLogger(__name__)
Notice = Callable[[str], None]


@dataclass
class Services:
    settings: Settings
    config: ServeConfig
    engines: Engines
    queue: GenerationQueue
    indexer: Indexer

    @staticmethod
    def of(request: Request) -> Services:
        services: Services = request.app.state.services
        return services

    def close(self) -> None:
        """Release the indexes and the model, once no answer is being generated (answers
        whose clients are gone stop at their next piece)."""
        if not self.queue.stop():
            log.warning("an answer was still being generated when the server stopped")
            return  # closing the model under it could crash; the process is ending anyway
        self.engines.close()


def passage_url(request: Request, pid: str) -> str:
    """The absolute URL of GET /v1/passages/{pid} as this request reached the server."""
    return str(request.url_for("passage", passage_id=pid))


def build_services(
    settings: Settings,
    config: ServeConfig,
    *,
    no_llm: bool = False,
    generator: Generator | None = None,
    notice: Notice | None = None,
    on_fallback: Notice | None = None,
    model_progress: Callable[[int, int], None] | None = None,
) -> Services:
    """Load the embedder and the answer model once (they load side by side) and open every
    knowledge base that has an index. `generator`: use this answer model instead of the
    configured one (tests pass a scripted one); `no_llm`: answer without a model."""
    embedder = make_embedder(settings, notice)
    errors: list[BaseException] = []

    def warm() -> None:
        try:
            warm_up = getattr(embedder, "warm_up", None)
            if warm_up is not None:
                warm_up()
        except BaseException as exc:  # handed to the starting thread
            errors.append(exc)

    warming = threading.Thread(target=warm, name="embedder-warm-up", daemon=True)
    warming.start()
    if generator is None and not no_llm:
        generator = make_generator(settings, progress=model_progress, on_fallback=on_fallback)
    warming.join()
    if errors:
        raise errors[0]
    model = None if no_llm or generator is None else Cancellable(generator)
    engines = Engines(settings, embedder, model)

    def build(name: str, progress: Callable[[int, int], None]) -> Any:
        return reindex(settings, get_kb(settings, name), progress=progress, embedder=embedder)

    def built(name: str) -> None:
        if get_kb(settings, name).indexed:
            engines.get(name)  # opened now, not by the next question
        else:
            engines.forget(name)

    for kb in list_kbs(settings):
        if kb.indexed:
            try:
                engines.get(kb.name)
            except RagError as exc:
                (notice or log.warning)(f"Knowledge base {kb.name!r} cannot be opened: {exc}")
    queue = GenerationQueue(config.queue_depth)
    return Services(settings, config, engines, queue, Indexer(build, built))
