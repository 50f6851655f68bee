"""The OpenAI-compatible shapes the server sends: completions, stream chunks, citations,
annotations, Open WebUI citation events, errors and SSE lines.

What the official `openai` client keeps (/work/shared/SERVING.md, checked with openai 3.51):
extra top-level fields (`completion.citations`), extra fields on a streamed chunk and its
delta, and `message.annotations` of type url_citation. A named SSE event breaks it, so the
stream is unnamed `data:` lines ending with `data: [DONE]`. Offsets in annotations count
code points (Python), as the answer text is a Python string.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from rag.answer.types import Answer, Citation
from rag.check.sentences import same_answer
from rag.ingest.extract.base import location_label

Url = Callable[[str], str]  # passage id -> its absolute URL
_MARKER = re.compile(r"\[(\d+)\]")


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def error_body(
    message: str, kind: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def citation_json(c: Citation, pid: str, url: str) -> dict[str, Any]:
    """One checked citation: where its passage is, its text and the URL that shows it."""
    label = location_label(c.location())
    title = f"{c.source} {label}" if label else c.source
    return {**c.to_json(), "id": pid, "title": title, "url": url}


def url_annotations(text: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One url_citation per [n] marker in `text` whose passage is cited."""
    by_n = {c["n"]: c for c in citations}
    found = []
    for match in _MARKER.finditer(text):
        cited = by_n.get(int(match.group(1)))
        if cited is None:
            continue
        found.append(
            {
                "type": "url_citation",
                "url_citation": {
                    "start_index": match.start(),
                    "end_index": match.end(),
                    "title": cited["title"],
                    "url": cited["url"],
                },
            }
        )
    return found


def usage(answer: Answer) -> dict[str, int]:
    prompt = int(answer.timings.get("prompt_tokens") or 0)
    completion = int(answer.timings.get("tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion(
    cid: str, model: str, answer: Answer, citations: list[dict[str, Any]]
) -> dict[str, Any]:
    """A whole (not streamed) chat completion: the checked answer and its citations."""
    message = {
        "role": "assistant",
        "content": answer.answer,
        "refusal": None,
        "annotations": url_annotations(answer.answer, citations),
    }
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": usage(answer),
        "citations": citations,
        "direct_answer": answer.direct,
        "refused": answer.refused,
        "mode": answer.mode,
    }


def chunk(
    cid: str,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One streamed chunk with one choice (clients that read `choices[0]` never fail)."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }


def closing_text(answer: Answer, streamed: str) -> str | None:
    """What the last chunk must add so that a client showing the stream shows the checked
    answer: all of it when nothing was streamed, the checked answer after a note when it
    differs from what was streamed (sentences dropped, markers moved, refused), else None."""
    if not streamed.strip():
        return answer.answer
    if same_answer(answer.answer, streamed):
        return None
    return f"\n\nChecked answer ({answer.revision_note()}):\n{answer.answer}"


def webui_event(c: dict[str, Any]) -> dict[str, Any]:
    """Open WebUI's citation event: it shows it as a source card."""
    meta: dict[str, Any] = {
        "source": c["url"],
        "name": c["title"],
        **{k: c[k] for k in ("page", "slide") if k in c},
    }
    return {
        "type": "citation",
        "data": {
            "document": [c["text"]],
            "metadata": [meta],
            "source": {"name": f"[{c['n']}] {c['title']}", "url": c["url"]},
        },
    }


def final_chunks(
    cid: str, model: str, answer: Answer, streamed: str, citations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The chunks after the streamed text: one Open WebUI citation event per citation (with an
    empty delta), then the last chunk with the closing text, the citations and the checked
    answer."""
    events = [chunk(cid, model, {}, event=webui_event(c)) for c in citations]
    closing = closing_text(answer, streamed)
    delta: dict[str, Any] = {} if closing is None else {"content": closing}
    last = chunk(
        cid,
        model,
        delta,
        "stop",
        citations=citations,
        answer=answer.answer,
        direct_answer=answer.direct,
        refused=answer.refused,
        usage=usage(answer),
    )
    return [*events, last]


def sse(payload: dict[str, Any] | str) -> str:
    """One unnamed SSE event."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


DONE = sse("[DONE]")
