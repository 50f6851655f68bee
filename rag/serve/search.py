"""GET /v1/models (the knowledge bases, as OpenAI clients pick a "model"), POST /v1/search
(the passages that best match a query, no answer) and GET /v1/passages/{id} (a passage with
its document, place and the text around it)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import NotFoundError, QueryError
from rag.ingest.extract.base import location_label
from rag.serve.engines import passage_id, split_passage_id
from rag.serve.kb import DEFAULT, KnowledgeBase, get_kb, list_kbs
from rag.serve.services import Services, passage_url

router = APIRouter()
CONTEXT_CHARS = 300  # of the document shown before and after a passage


def model_json(kb: KnowledgeBase) -> dict[str, Any]:
    folder = kb.index if kb.index.exists() else kb.documents
    created = int(folder.stat().st_mtime) if folder.exists() else int(time.time())
    return {
        "id": kb.name,
        "object": "model",
        "created": created,
        "owned_by": "sovereign-rag",
        "indexed": kb.indexed,
        "writable": kb.writable,
    }


@router.get("/v1/models")
def models(request: Request) -> dict[str, Any]:
    """Every knowledge base, the default index first."""
    kbs = list_kbs(Services.of(request).settings)
    return {"object": "list", "data": [model_json(kb) for kb in kbs]}


@router.get("/v1/models/{name}")
def model(name: str, request: Request) -> dict[str, Any]:
    return model_json(get_kb(Services.of(request).settings, name))


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = DEFAULT
    query: str
    top_k: int | None = Field(default=None, ge=1, le=100)


@router.post("/v1/search")
def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    """The passages that best match `query` in the knowledge base `model`, best first."""
    services = Services.of(request)
    query = body.query.strip()[: services.settings.max_question_chars]
    if not query:
        raise QueryError('The query is empty. Send e.g. {"query": "主權AI是什麼？"}.')
    engine = services.engines.get(body.model)
    found = engine.retriever.search(query, body.top_k or services.settings.top_k)
    data = []
    for hit in found.hits:
        pid = passage_id(body.model, hit.chunk.id)
        location = hit.chunk.location()
        data.append(
            {
                "id": pid,
                "object": "search.result",
                "rank": hit.rank,
                "score": round(hit.score, 4),
                "source": hit.source,
                "start": hit.chunk.start,
                "end": hit.chunk.end,
                **location,
                "label": location_label(location),
                "text": hit.chunk.text,
                "url": passage_url(request, pid),
            }
        )
    return {
        "object": "list",
        "model": body.model,
        "query": query,
        "also_searched": found.also_searched,
        "data": data,
    }


@router.get("/v1/passages/{passage_id}", name="passage")
def passage(passage_id: str, request: Request) -> dict[str, Any]:
    """A passage's text, document, span, page/slide/section and the text around it."""
    kb, chunk_id = split_passage_id(passage_id)
    engine = Services.of(request).engines.get(kb)
    chunk = engine.chunk(chunk_id)
    record = engine.index.documents.get(chunk.doc_id)
    if record is None:
        raise NotFoundError(f"The document of passage {passage_id!r} is not in the index.")
    text = str(record["text"])
    location = chunk.location()
    return {
        "id": passage_id,
        "object": "passage",
        "model": kb,
        "source": chunk.doc_id,
        "title": record.get("title"),
        "start": chunk.start,
        "end": chunk.end,
        **location,
        "label": location_label(location),
        "text": chunk.text,
        "before": text[max(0, chunk.start - CONTEXT_CHARS) : chunk.start],
        "after": text[chunk.end : chunk.end + CONTEXT_CHARS],
        "document_chars": len(text),
    }
