"""Milvus Lite, the embedded Milvus engine, run in this process for the Milvus store
(rag.index.milvus_store): started on first use of a data folder, shared by the stores that use
it, stopped by the last one.

It listens on a Unix socket in a private temporary folder, not on the TCP port pymilvus would
open for a `.db` path: it then works with no network interface at all (`unshare -n`, where
even loopback is down), and no other local user can connect (Lite has no authentication).
Lite serves one process per data folder; a second process gets IndexLockedError.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, IndexCorruptError, IndexLockedError

log = logging.getLogger(__name__)


@dataclass
class _Lite:
    """A running engine: its gRPC server, database, socket folder and how many use it."""

    server: Any
    db: Any
    socket_dir: str
    uri: str
    users: int = 0


_lite: dict[str, _Lite] = {}
_lite_guard = threading.Lock()


def open_lite(path: Path) -> str:
    """Start (or share) the Lite engine for the data folder `path`; the URI to reach it."""
    key = str(path.resolve())
    with _lite_guard:
        running = _lite.get(key)
        if running is None:
            running = _start_lite(path)
            _lite[key] = running
        running.users += 1
        return running.uri


def _start_lite(path: Path) -> _Lite:
    if not path.parent.is_dir():
        raise ConfigError(
            f"The folder of the Milvus Lite data {path} does not exist. Create it, or fix "
            "--milvus-uri (RAG_MILVUS_URI)."
        )
    from milvus_lite.adapter.grpc.server import start_server_in_thread
    from milvus_lite.exceptions import DataDirLockedError

    socket_dir = tempfile.mkdtemp(prefix="rag-milvus-")  # 0700: only this user connects
    try:
        # Lite binds "{host}:{port}": a Unix socket path, with the port as its tail.
        server, db, _ = start_server_in_thread(str(path), host=f"unix:{socket_dir}/lite", port=0)
    except DataDirLockedError:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise IndexLockedError(
            f"The Milvus Lite data {path} is open in another process (Milvus Lite serves one "
            "process at a time). Wait for it to finish or stop it (a running `rag serve` or "
            "`rag chat`?), or keep the vectors on a Milvus server (--milvus-uri "
            "http://host:19530)."
        ) from None
    except Exception as exc:
        shutil.rmtree(socket_dir, ignore_errors=True)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise IndexCorruptError(f"Cannot open the Milvus Lite data {path} ({reason}).") from None
    return _Lite(server, db, socket_dir, uri=f"unix:{socket_dir}/lite:0")


def release_lite(path: Path) -> None:
    """One user fewer; the last one stops the engine and frees the data folder's lock."""
    key = str(path.resolve())
    with _lite_guard:
        running = _lite.get(key)
        if running is None:
            return
        running.users -= 1
        if running.users > 0:
            return
        del _lite[key]
    _stop(running)


def _stop(running: _Lite) -> None:
    try:
        running.server.stop(grace=1).wait()
    finally:
        running.db.close()
        shutil.rmtree(running.socket_dir, ignore_errors=True)


@atexit.register
def _stop_all() -> None:
    with _lite_guard:
        left = list(_lite.values())
        _lite.clear()
    for running in left:
        try:
            _stop(running)
        except Exception as exc:  # at exit: nothing left to tell but the log
            log.debug("stopping Milvus Lite: %s", exc)
