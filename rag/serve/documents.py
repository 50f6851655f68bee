"""Knowledge bases and their documents over HTTP: list and create knowledge bases, upload
documents (multipart; each file over max_file_mb or of a type that is not read is reported by
name), remove one, and poll the re-indexing that follows in the background."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from rag.errors import ConfigError
from rag.serve.kb import (
    KnowledgeBase,
    create_kb,
    get_kb,
    list_kbs,
    remove_document,
    save_document,
    size_problem,
    stored_name,
)
from rag.serve.services import Services
from rag.serve.wire import error_body

router = APIRouter()
MAX_FILES = 20  # per upload request
_MULTIPART_OVERHEAD = 1 << 20


def kb_json(kb: KnowledgeBase, services: Services, files: bool = False) -> dict[str, Any]:
    names = kb.files()
    record: dict[str, Any] = {
        "id": kb.name,
        "object": "knowledge_base",
        "writable": kb.writable,
        "indexed": kb.indexed,
        "document_count": len(names),
        "indexing": services.indexer.status(kb.name),
    }
    if files:
        record["documents"] = [
            {"name": n, "bytes": (kb.documents / n).stat().st_size} for n in names
        ]
    return record


@router.get("/v1/knowledge_bases")
def knowledge_bases(request: Request) -> dict[str, Any]:
    services = Services.of(request)
    return {"object": "list", "data": [kb_json(kb, services) for kb in list_kbs(services.settings)]}


class CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


@router.post("/v1/knowledge_bases", status_code=201)
def create(body: CreateRequest, request: Request) -> dict[str, Any]:
    services = Services.of(request)
    return kb_json(create_kb(services.settings, body.name), services)


@router.get("/v1/knowledge_bases/{name}", name="knowledge_base")
def knowledge_base(name: str, request: Request) -> dict[str, Any]:
    """A knowledge base, its documents and where its re-indexing stands (poll this)."""
    services = Services.of(request)
    return kb_json(get_kb(services.settings, name), services, files=True)


def _limit_bytes(request: Request) -> int:
    per_file = int(Services.of(request).settings.max_file_mb * 1024 * 1024)
    return per_file * MAX_FILES + _MULTIPART_OVERHEAD


def _rejected(status: int, message: str, rejected: list[dict[str, str]]) -> JSONResponse:
    body = error_body(message, "invalid_request_error", "files_rejected")
    return JSONResponse({**body, "rejected": rejected}, status_code=status)


@router.post("/v1/knowledge_bases/{name}/documents")
async def upload(name: str, request: Request) -> JSONResponse:
    """Store the uploaded files (multipart, any field name) and re-index in the background."""
    services = Services.of(request)
    kb = get_kb(services.settings, name)
    if not kb.writable:
        raise ConfigError(
            "The default index is built with `rag index` from its own folder; upload to a "
            "knowledge base instead (POST /v1/knowledge_bases)."
        )
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return JSONResponse(error_body("Send the upload with a Content-Length."), 411)
    if int(length) > _limit_bytes(request):
        limit = services.settings.max_file_mb
        message = (
            f"The upload is {int(length) / 1048576:.1f} MB; at most {MAX_FILES} files of "
            f"{limit:g} MB each (max_file_mb) are taken per request."
        )
        return JSONResponse(error_body(message, code="upload_too_large"), 413)
    form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    try:
        files = [v for _k, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            message = "No file in the request: send multipart/form-data with a 'files' field."
            return JSONResponse(error_body(message, code="no_files"), 400)
        accepted: list[str] = []
        rejected: list[dict[str, str]] = []
        too_big = 0
        for upload_file in files:
            given = upload_file.filename or ""
            try:
                stored = stored_name(given)
                problem = size_problem(upload_file.size or 0, services.settings)
                if problem:
                    too_big += 1
                    raise ValueError(problem)
                await run_in_threadpool(save_document, kb, stored, upload_file.file)
                accepted.append(stored)
            except ValueError as exc:
                rejected.append({"file": given, "reason": str(exc)})
    finally:
        await form.close()
    if not accepted:
        listed = "; ".join(f"{r['file']}: {r['reason']}" for r in rejected)
        return _rejected(
            413 if too_big == len(rejected) else 400, f"No file was stored ({listed}).", rejected
        )
    status = services.indexer.request(kb.name)
    body = {
        "object": "upload",
        "model": kb.name,
        "accepted": accepted,
        "rejected": rejected,
        "indexing": status,
        "status_url": str(request.url_for("knowledge_base", name=kb.name)),
    }
    return JSONResponse(body, status_code=202)


@router.delete("/v1/knowledge_bases/{name}/documents/{document:path}")
def remove(name: str, document: str, request: Request) -> JSONResponse:
    """Delete a document and re-index in the background."""
    services = Services.of(request)
    kb = get_kb(services.settings, name)
    removed = remove_document(kb, document)
    status = services.indexer.request(kb.name)
    body = {
        "object": "removal",
        "model": kb.name,
        "removed": removed,
        "indexing": status,
        "status_url": str(request.url_for("knowledge_base", name=kb.name)),
    }
    return JSONResponse(body, status_code=202)
