"""Every error as OpenAI's JSON error object with the right status: a user's mistake (a
RagError, a malformed body) says what was wrong and what to do, a full queue says when to
come back (429 with Retry-After), and a bug says only that it happened (details in the log)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import RagError
from rag.serve.queue import Cancelled, QueueFull
from rag.serve.wire import error_body

log = logging.getLogger(__name__)

# RagError subclasses by name -> (status, OpenAI error type, code); the nearest class wins.
STATUS = {
    "NotFoundError": (404, "invalid_request_error", "not_found"),
    "QueryError": (400, "invalid_request_error", None),
    "ConfigError": (400, "invalid_request_error", None),
    "EvalFileError": (400, "invalid_request_error", None),
    "CorpusError": (422, "invalid_request_error", "no_readable_document"),
    "IndexMissingError": (409, "invalid_request_error", "index_missing"),
    "IndexLockedError": (409, "invalid_request_error", "index_locked"),
    "IndexMismatchError": (500, "server_error", "index_mismatch"),
    "IndexCorruptError": (500, "server_error", "index_corrupt"),
    "IndexWriteError": (500, "server_error", "index_write"),
    "ModelError": (503, "server_error", "model_unavailable"),
    "StoreUnavailableError": (503, "server_error", "store_unavailable"),
}


def rag_error_status(exc: RagError) -> tuple[int, str, str | None]:
    for cls in type(exc).__mro__:
        if cls.__name__ in STATUS:
            return STATUS[cls.__name__]
    return 500, "server_error", None


def rag_error_response(exc: RagError) -> JSONResponse:
    status, kind, code = rag_error_status(exc)
    return JSONResponse(error_body(str(exc), kind, code), status_code=status)


def queue_full_response(exc: QueueFull) -> JSONResponse:
    return JSONResponse(
        error_body(str(exc), "rate_limit_error", "queue_full"),
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Malformed request body (" + "; ".join(problems) + "). Send JSON as the OpenAI API does."


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    async def rag_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return rag_error_response(exc)

    async def queue_full(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, QueueFull)
        return queue_full_response(exc)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body(_validation_message(exc)), status_code=400)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else None
        message = str(exc.detail) if exc.status_code != 404 else "No such endpoint."
        return JSONResponse(
            error_body(message, "invalid_request_error", code),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    async def cancelled(_request: Request, _exc: Exception) -> JSONResponse:
        # Nobody reads this: the client went away.
        return JSONResponse(error_body("Cancelled.", "server_error"), status_code=499)

    async def bug(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return JSONResponse(
            error_body(
                f"Internal error ({type(exc).__name__}); see the server's log.", "server_error"
            ),
            status_code=500,
        )

    app.add_exception_handler(RagError, rag_error)
    app.add_exception_handler(QueueFull, queue_full)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Cancelled, cancelled)
    app.add_exception_handler(Exception, bug)
