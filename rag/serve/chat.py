"""POST /v1/chat/completions (HTTP only; the answering is rag.serve.chat_service): the
knowledge base is the "model", the reply keeps the checked answer and its checked citations,
streamed as unnamed SSE `data:` lines ending with `data: [DONE]`, or whole."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from rag.answer.types import Answer
from rag.errors import RagError
from rag.serve.chat_service import AnswerRun, read_turn
from rag.serve.engines import Engine, passage_id
from rag.serve.errors import rag_error_status
from rag.serve.kb import DEFAULT
from rag.serve.queue import Cancelled
from rag.serve.services import Services, passage_url
from rag.serve.wire import (
    DONE,
    chunk,
    citation_json,
    completion,
    completion_id,
    error_body,
    final_chunks,
    sse,
)

log = logging.getLogger(__name__)
router = APIRouter()


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields read; the others an OpenAI client sends (temperature, …) are accepted and
    ignored: answers are greedy and checked."""

    model_config = ConfigDict(extra="allow")

    model: str = DEFAULT
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def citations_of(engine: Engine, answer: Answer, request: Request) -> list[dict[str, Any]]:
    """The answer's checked citations, each with its passage's id and URL."""
    by_rank = {h.rank: h for h in answer.retrieved}
    found = []
    for c in answer.citations:
        hit = by_rank.get(c.n)
        pid = passage_id(engine.kb.name, hit.chunk.id) if hit else ""
        found.append(citation_json(c, pid, passage_url(request, pid) if pid else ""))
    return found


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    """An answer from the knowledge base named by `model`, with checked citations."""
    services = Services.of(request)
    messages = [m.model_dump() for m in body.messages]
    turn = read_turn(messages, services.settings.max_question_chars)
    engine = await run_in_threadpool(services.engines.get, body.model)
    ticket = services.queue.admit()  # QueueFull: 429
    run = AnswerRun(engine, turn, ticket).start()
    cid = completion_id()
    if body.stream:
        return StreamingResponse(
            _stream(run, cid, body.model, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await run.answer(request.is_disconnected)
    return JSONResponse(completion(cid, body.model, answer, citations_of(engine, answer, request)))


async def _stream(run: AnswerRun, cid: str, model: str, request: Request) -> AsyncIterator[str]:
    """The SSE lines of one answer: a role chunk, the pieces as they are shown, the citation
    events, the last chunk with the checked answer, [DONE]. An error after the first line is
    sent as an error object, which the openai client raises."""
    yield sse(chunk(cid, model, {"role": "assistant", "content": ""}))
    streamed: list[str] = []
    try:
        async for event in run.events(request.is_disconnected):
            if event.kind == "token":
                streamed.append(event.value)
                yield sse(chunk(cid, model, {"content": event.value}))
            elif event.kind == "status":  # Open WebUI shows it under the answer
                status = {"type": "status", "data": {"description": event.value, "done": False}}
                yield sse(chunk(cid, model, {}, event=status))
            elif event.kind == "done":
                answer: Answer = event.value
                citations = citations_of(run.engine, answer, request)
                for last in final_chunks(cid, model, answer, "".join(streamed), citations):
                    yield sse(last)
    except Cancelled:
        return
    except RagError as exc:
        _status, kind, code = rag_error_status(exc)
        yield sse(error_body(str(exc), kind, code))
    except Exception as exc:  # a bug: the stream still ends cleanly
        log.error("answer failed", exc_info=exc)
        yield sse(error_body(f"Internal error ({type(exc).__name__}).", "server_error"))
    yield DONE
