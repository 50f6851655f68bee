"""The FastAPI app, built in one place: the routers (chat, search, documents), the error
handlers, bearer auth on /v1, CORS only for origins named, the page at `/` with its files,
and GET /healthz. No interactive docs: FastAPI's would load Swagger UI from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from rag import __version__
from rag.serve import chat, documents, errors, search
from rag.serve.security import BearerAuth, LoopbackHostOnly, SecurityHeaders
from rag.serve.services import Services

PAGE = Path(__file__).resolve().parent / "page"


def create_app(services: Services) -> FastAPI:
    """The app over these services (built by rag.serve.services.build_services)."""
    app = FastAPI(
        title="sovereign-rag",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    app.state.services = services
    errors.install(app)
    app.include_router(chat.router)
    app.include_router(search.router)
    app.include_router(documents.router)

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        """Whether the server answers, and how busy the model is."""
        services = Services.of(request)
        generator = services.engines.generator
        return {
            "status": "ok",
            "version": __version__,
            "model": None if generator is None else generator.model_info().get("name"),
            "queue": services.queue.counts(),
        }

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE / "index.html", media_type="text/html")

    app.mount("/page", StaticFiles(directory=PAGE), name="page")
    # Outermost last: CORS answers preflight requests before auth sees them.
    app.add_middleware(BearerAuth, token=services.config.token)
    if not services.config.token:
        app.add_middleware(LoopbackHostOnly)
    if services.config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(services.config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
    return app
