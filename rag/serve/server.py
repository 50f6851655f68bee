"""Running the app with uvicorn: on a socket bound first (so a taken port is a one-line error,
not a log line and an exit), in the foreground for `rag serve`, or in a thread for tests and
benchmarks (`BackgroundServer`, on a free loopback port)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from rag.errors import ConfigError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); ConfigError when it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _type, _proto, _name, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Pick another --port or "
            "--host."
        ) from None
    sock.setblocking(False)
    return sock


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's per-thread malloc arenas for this long-running, many-threaded process
    (uvicorn's workers, torch and llama.cpp threads): each thread that allocates may otherwise
    get an arena of its own that is never given back. False where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(-8, arenas))  # -8: M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):
        return False


def _server(app: Any, log_level: str) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, log_level=log_level, access_log=log_level == "debug", timeout_graceful_shutdown=5
    )
    return uvicorn.Server(config)


def run(app: Any, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve until Ctrl-C."""
    _server(app, log_level).run(sockets=[sock])


class BackgroundServer:
    """The app served from a thread on a loopback port; `url` once started, `stop()` to end."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = _server(app, "warning")
        # uvicorn installs signal handlers only from the main thread.
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
