"""What the server keeps loaded: one embedder and one answer model for every knowledge base,
and per knowledge base its index, retriever and answerer, opened on first use and opened
again when its live build changes (a re-index by the server or by `rag kb add`). All parts
come from the builder (rag.pipeline); nothing of a request is kept here."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.answerer import Answerer
from rag.embed.embedder import Embedder
from rag.errors import IndexMissingError, NotFoundError
from rag.generate.base import Generator
from rag.index.load import Index, current_build
from rag.ingest.chunking import Chunk
from rag.pipeline import make_answerer, make_retriever, open_index
from rag.retrieve.retriever import Retriever
from rag.serve.kb import KnowledgeBase, get_kb
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """One knowledge base, loaded: searched and answered from."""

    kb: KnowledgeBase
    index: Index
    retriever: Retriever
    answerer: Answerer
    positions: dict[str, int] = field(default_factory=dict)

    def chunk(self, chunk_id: str) -> Chunk:
        """A passage by its id; NotFoundError when this build has no such passage."""
        if not self.positions:
            self.positions = {c.id: i for i, c in enumerate(self.index.chunks)}
        position = self.positions.get(chunk_id)
        if position is None:
            raise NotFoundError(
                f"No passage {chunk_id!r} in knowledge base {self.kb.name!r}: its document "
                "was changed or removed since it was cited. Ask again."
            )
        return self.index.chunks[position]


def passage_id(kb: str, chunk_id: str) -> str:
    """A passage's id in the API: the knowledge base and the chunk."""
    return f"{kb}:{chunk_id}"


def split_passage_id(value: str) -> tuple[str, str]:
    kb, sep, chunk_id = value.partition(":")
    if not sep or not kb or not chunk_id:
        raise NotFoundError(f"{value!r} is not a passage id (they look like 'default:3f2a…').")
    return kb, chunk_id


class Engines:
    """The loaded knowledge bases, sharing one embedder and one answer model."""

    def __init__(self, settings: Settings, embedder: Embedder, generator: Generator | None):
        self.settings = settings
        self.embedder = embedder
        self.generator = generator
        self._loaded: dict[str, tuple[Path, Engine]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Engine:
        """The knowledge base `name`, loaded from its live build (IndexMissingError when it
        has none yet, NotFoundError when there is no such knowledge base)."""
        kb = get_kb(self.settings, name)
        with self._lock:
            build = current_build(kb.index)
            if build is None:
                self._loaded.pop(name, None)
                if kb.writable:
                    raise IndexMissingError(
                        f"Knowledge base {name!r} has no documents yet: upload some (POST "
                        f"/v1/knowledge_bases/{name}/documents) or run `rag kb add {name} FILES`."
                    )
            loaded = self._loaded.get(name)
            if loaded is not None and build is not None and loaded[0] == build:
                return loaded[1]
            engine = self._open(kb)
            self._loaded[name] = (engine.index.folder, engine)
            # The replaced build's index is not closed: answers in flight still read it,
            # and it holds everything they need in memory (see _open).
            return engine

    def forget(self, name: str) -> None:
        """Drop a knowledge base (its index was removed)."""
        with self._lock:
            self._loaded.pop(name, None)

    def _open(self, kb: KnowledgeBase) -> Engine:
        settings = kb.settings(self.settings)
        index = open_index(settings, self.embedder, kb.index)
        retriever = make_retriever(settings, self.embedder, index)
        # Read every part now: a re-index deletes the replaced build's folder, and answers
        # that started on it must still find its documents and name pairs.
        retriever.warm_up()
        _ = index.documents, index.aliases, index.chinese
        answerer = make_answerer(settings, retriever, self.generator)
        log.debug("opened knowledge base %s (%s)", kb.name, index.folder)
        return Engine(kb, index, retriever, answerer)

    def close(self) -> None:
        with self._lock:
            for _build, engine in self._loaded.values():
                engine.index.close()
            self._loaded.clear()
        close = getattr(self.generator, "close", None)
        if close is not None:
            close()
