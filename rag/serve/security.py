"""Safe defaults for the server: loopback unless a token is set, a bearer token on every /v1
request (compared in constant time), CORS only for origins named, and a page that may not
load anything from elsewhere (Content-Security-Policy)."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import ConfigError
from rag.serve.wire import error_body

TOKEN_ENV = "RAG_API_TOKEN"
# Everything the page uses comes from this server; nothing may be framed or fetched from
# elsewhere, so a document's text can never pull in a remote resource.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ServeConfig:
    """How the server listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    cors_origins: tuple[str, ...] = ()
    queue_depth: int = 8  # questions waiting for the model besides the one answered

    def check(self) -> ServeConfig:
        """ConfigError for a setting that would expose the documents or cannot work."""
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"Refusing to listen on {self.host}, which other machines can reach, without "
                f"a token: set {TOKEN_ENV} or pass --token-file FILE (or keep the default "
                "--host 127.0.0.1)."
            )
        if "*" in self.cors_origins:
            raise ConfigError(
                "--cors-origin '*' would let any web page read your documents; name the "
                "origins (e.g. --cors-origin http://localhost:3000)."
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, got {self.port}.")
        if self.queue_depth < 0:
            raise ConfigError(f"--queue must be 0 or more, got {self.queue_depth}.")
        return self


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def read_token(env: Mapping[str, str], token_file: Path | None = None) -> str | None:
    """The API token from --token-file (first line) or RAG_API_TOKEN; None when neither."""
    if token_file is not None:
        try:
            lines = token_file.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the token file {token_file} ({exc}).") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise ConfigError(f"The token file {token_file} is empty; put the token in it.")
        return token
    token = env.get(TOKEN_ENV, "").strip()
    return token or None


class BearerAuth:
    """ASGI middleware: every /v1 request needs `Authorization: Bearer <token>` (401 with an
    OpenAI-shaped error otherwise). The page, its files and /healthz stay open."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token.encode("utf-8") if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or not _guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"authorization", b"")
        scheme, _, value = given.partition(b" ")
        # compare_digest takes as long whatever the token, so timing tells nothing of it.
        if scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), self.token):
            await self.app(scope, receive, send)
            return
        reason = "Wrong API token." if given else "Missing API token."
        body = error_body(
            f"{reason} Send 'Authorization: Bearer <token>' (the server's {TOKEN_ENV}).",
            "authentication_error",
            "invalid_api_key",
        )
        await _send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])


def _guarded(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


async def _send_json(
    send: Send, status: int, body: dict[str, object], headers: list[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            *headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": data})


def host_name(header: str) -> str:
    """The host of a Host header: "[::1]:8000" -> "::1", "localhost:8000" -> "localhost"."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class LoopbackHostOnly:
    """ASGI middleware for a server without a token: requests must name this machine in
    their Host header. A web page whose own domain is made to resolve to 127.0.0.1 (DNS
    rebinding) would otherwise be same-origin with the server and read the documents."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not is_loopback(host_name(header)):
                body = error_body(
                    f"Host {header!r} is not this machine: without a token the server only "
                    "answers requests to localhost or 127.0.0.1.",
                    code="host_not_allowed",
                )
                await _send_json(send, 421, body, [])
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware adding the page's Content-Security-Policy and related headers."""

    HEADERS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)
