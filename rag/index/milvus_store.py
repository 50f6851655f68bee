"""The Milvus vector store: one collection per index and build, in Milvus Lite (a folder on
this machine) or on a Milvus server, through the same pymilvus `MilvusClient` code.

`milvus_uri` chooses where: "" (the default) is Milvus Lite in `<index>/milvus.db`, another
path is Milvus Lite there, `http(s)://host:19530` is a Milvus standalone or cluster (with
`milvus_token`). Collections hold the chunk rows as int64 primary keys 0..n-1 and their
normalised vectors, searched by inner product (cosine): exact (FLAT) below `hnsw_threshold`
vectors, HNSW from there on, like the FAISS store. The BM25 side stays the project's own.

Milvus Lite runs in this process (rag.index.milvus_local), reached over a private Unix
socket: it works with no network at all. It serves one process per data folder.
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, StoreUnavailableError
from rag.index.milvus_local import open_lite, release_lite
from rag.index.store import StoreParams

log = logging.getLogger(__name__)

BACKEND = "milvus"
FLAT = "milvus-flat-ip"
HNSW = "milvus-hnsw-ip"
LITE_FOLDER = "milvus.db"  # Milvus Lite's data folder, in the index folder by default
PRIMARY = "id"
VECTOR = "vector"
INSERT_ROWS = 5_000  # rows per insert call: 384-dim float32 is about 8 MB per call
CONNECT_TIMEOUT_S = 5.0
SEARCH_TIMEOUT_S = 30.0  # a server that stops answering fails the search, not hangs it
INDEX_WAIT_S = 3600  # a build waits this long at most for Milvus to finish its vector index
SERVER_SCHEMES = ("http", "https")
_REBUILD = "Rebuild with `rag index --rebuild --store milvus`."


def _reason(exc: BaseException) -> str:
    """pymilvus' message without its wrapping, on one line."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())


def check_uri(uri: str) -> str:
    """A usable `milvus_uri` (server URL or Lite path) or ConfigError; "" stays ""."""
    uri = uri.strip()
    if "://" in uri:
        scheme = urlsplit(uri).scheme.lower()
        if scheme not in SERVER_SCHEMES or not urlsplit(uri).hostname:
            raise ConfigError(
                f"milvus_uri {uri!r} is neither a Milvus server (http(s)://host:19530) nor a "
                "Milvus Lite path (e.g. ./milvus.db). Fix --milvus-uri or RAG_MILVUS_URI."
            )
    return uri


def _is_server(uri: str) -> bool:
    return "://" in uri


def _without_credentials(uri: str) -> str:
    """The server URI as the manifest may record it: user:password@ removed."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# -- a connection ---------------------------------------------------------------------------


class _Connection:
    """A MilvusClient to a server or to Lite; `where` names it in messages."""

    def __init__(self, uri: str, token: str, lite: Path | None):
        from pymilvus import MilvusClient

        self._lite = lite
        self.where = f"Milvus Lite {lite}" if lite is not None else f"Milvus at {uri}"
        target = open_lite(lite) if lite is not None else uri
        try:
            self.client = MilvusClient(uri=target, token=token, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            if lite is not None:
                release_lite(lite)
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        fix = "Check that it runs and the address (--milvus-uri), and milvus_token."
        if self._lite is not None:
            fix = "Rebuild the index with `rag index --rebuild --store milvus`."
        return StoreUnavailableError(f"Cannot use {self.where} ({_reason(exc)}). {fix}")

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._lite is not None:
                release_lite(self._lite)
                self._lite = None


def _connect(uri: str, token: str, index_dir: Path) -> _Connection:
    """`uri` as recorded: "" is Lite in the index folder, a path Lite there, else a server."""
    if _is_server(uri):
        return _Connection(uri, token, None)
    return _Connection(uri, token, Path(uri) if uri else index_dir / LITE_FOLDER)


def ping(uri: str, token: str, index_dir: Path) -> str:
    """Whether the Milvus `rag index` would write to answers (a server: it is asked; Lite:
    not started, since that would create its folder)."""
    uri = check_uri(uri)
    if not _is_server(uri):
        path = Path(uri).expanduser() if uri else index_dir / LITE_FOLDER
        state = "present" if path.exists() else "created by `rag index`"
        return f"Milvus Lite at {path} ({state})"
    connection = _connect(uri, token, index_dir)
    try:
        names = connection.client.list_collections()
    except Exception as exc:
        raise connection.unavailable(exc) from None
    finally:
        connection.close()
    return f"{connection.where} answers ({len(names)} collections)"


# -- the store ------------------------------------------------------------------------------


class MilvusStore:
    """One collection of a build's vectors: int64 ids are the chunk rows."""

    def __init__(
        self,
        connection: _Connection,
        collection: str,
        kind: str,
        vectors: int,
        dimension: int,
        uri: str,
        params: StoreParams,
    ):
        self._connection = connection
        self.collection = collection
        self.kind = kind
        self._vectors = vectors
        self.dimension = dimension
        self.uri = uri  # as recorded: "" (Lite in the index folder), a path, or a server
        self.params = params
        self.ef_search = params.hnsw_ef_search

    @property
    def size(self) -> int:
        return self._vectors

    def set_ef_search(self, ef_search: int) -> None:
        """HNSW only: candidates explored per query (recall against speed)."""
        self.ef_search = int(ef_search)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        params: dict[str, Any] = {"metric_type": "IP", "params": {}}
        if self.kind == HNSW:
            params["params"]["ef"] = max(self.ef_search, k)  # Milvus refuses ef below k
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        try:
            found = self._connection.client.search(
                self.collection,
                data=[vector.tolist()],
                limit=k,
                search_params=params,
                output_fields=[PRIMARY],
                timeout=SEARCH_TIMEOUT_S,
            )
        except Exception as exc:
            raise self._connection.unavailable(exc) from None
        hits = list(found[0]) if found else []
        scores = np.full(k, -np.inf, dtype=np.float32)
        positions = np.full(k, -1, dtype=np.int64)
        for i, hit in enumerate(hits[:k]):
            scores[i] = float(hit["distance"])  # IP: the similarity, larger is nearer
            positions[i] = int(hit["id"])
        return scores, positions

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": BACKEND,
            "kind": self.kind,
            "vectors": self.size,
            "dimension": self.dimension,
            "collection": self.collection,
            "uri": self.uri,
            "metric": "IP",
            "hnsw_threshold": self.params.hnsw_threshold,
        }
        if self.kind == HNSW:
            info["hnsw_m"] = self.params.hnsw_m
            info["hnsw_ef_construction"] = self.params.hnsw_ef_construction
            info["hnsw_ef_search"] = self.ef_search
        return info

    def close(self) -> None:
        """Close the client (and, for the last user of a Lite folder, Lite itself)."""
        self._connection.close()


def _wait_for_index(client: Any, name: str, rows: int) -> None:
    """Wait until the vector index covers every row: Milvus builds it in the background, and
    until then searches scan the rows (right, but slow at scale)."""
    deadline = time.monotonic() + INDEX_WAIT_S
    while True:
        state = client.describe_index(name, VECTOR)
        done = int(state.get("indexed_rows", rows)) >= rows and not state.get("pending_index_rows")
        if done or state.get("state") == "Failed":
            return
        if time.monotonic() > deadline:
            log.warning("the index of %s is still being built after %d s", name, INDEX_WAIT_S)
            return
        time.sleep(0.5)


def _hnsw_index(m: int, ef_construction: int) -> Any:
    """The HNSW IndexParam, with its build parameters sent both flattened (what a Milvus
    server reads) and as the JSON `params` entry (what Milvus Lite reads; servers take it too)."""
    from pymilvus.milvus_client.index import IndexParam

    class Both(IndexParam):  # type: ignore[misc]
        def get_index_configs(self) -> dict[str, Any]:
            configs = dict(super().get_index_configs())
            configs["params"] = {k: configs[k] for k in ("M", "efConstruction") if k in configs}
            return configs

    build = {"M": m, "efConstruction": ef_construction}
    return Both(VECTOR, "HNSW", VECTOR, metric_type="IP", params=build)


# -- naming ---------------------------------------------------------------------------------

_BUILD = re.compile(r"^\.?build-(?P<stamp>[0-9A-Za-z-]+?)(?:\.partial)?$")


def _prefix(index_dir: Path) -> str:
    """What every collection of one index starts with: its folder's name, and a hash of this
    machine and the folder's path, so that indexes sharing a server never share names."""
    resolved = index_dir.resolve()
    slug = re.sub(r"[^0-9A-Za-z]+", "_", resolved.name).strip("_")[:32] or "index"
    digest = hashlib.sha1(f"{socket.gethostname()}\n{resolved}".encode()).hexdigest()[:8]
    return f"rag_{slug}_{digest}_"


def collection_name(folder: Path) -> str:
    """The collection of the build written in `folder` (`.build-*.partial` or `build-*`)."""
    match = _BUILD.match(folder.name)
    if match is None:
        raise ConfigError(f"{folder} is not an index build folder.")
    return _prefix(folder.parent) + match["stamp"].replace("-", "_")


def _build_of(collection: str, index_dir: Path) -> str | None:
    """The build folder name a collection of this index belongs to (None: not this index)."""
    prefix = _prefix(index_dir)
    if not collection.startswith(prefix):
        return None
    return "build-" + collection[len(prefix) :].replace("_", "-")


# -- the backend ----------------------------------------------------------------------------


class MilvusBackend:
    """Builds, opens and drops the Milvus collections of an index's builds."""

    name = BACKEND

    def __init__(self, params: StoreParams | None = None):
        self.params = params or StoreParams(backend=BACKEND)

    def _recorded_uri(self) -> str:
        """The URI the manifest records: a Lite path made absolute, a server's without
        credentials (the token lives in settings only)."""
        uri = check_uri(self.params.uri)
        if not uri:
            return ""
        if _is_server(uri):
            return _without_credentials(uri)
        return str(Path(uri).expanduser().resolve())

    def build(self, vectors: np.ndarray, folder: Path) -> MilvusStore:
        """A new collection holding `vectors` (rows 0..n-1), flushed and loaded."""
        uri = self._recorded_uri()
        index_dir = folder.parent
        name = collection_name(folder)
        connection = _connect(
            self.params.uri if _is_server(uri) else uri, self.params.token, index_dir
        )
        try:
            self._drop_orphans(connection, index_dir)
            kind = HNSW if len(vectors) >= self.params.hnsw_threshold else FLAT
            dimension = int(vectors.shape[1])
            self._create(connection, name, kind, dimension)
            try:
                self._fill(connection, name, vectors)
            except BaseException:
                connection.client.drop_collection(name)
                raise
        except BaseException:
            connection.close()
            raise
        return MilvusStore(connection, name, kind, len(vectors), dimension, uri, self.params)

    def _create(self, connection: _Connection, name: str, kind: str, dimension: int) -> None:
        from pymilvus import DataType, MilvusClient

        client = connection.client
        try:
            if client.has_collection(name):
                raise IndexCorruptError(
                    f"A collection named {name} already exists in {connection.where}. "
                    "Run `rag index` again (the next build gets another name)."
                )
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field(PRIMARY, DataType.INT64, is_primary=True)
            schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=dimension)
            index = client.prepare_index_params()
            if kind == HNSW:
                index.append(_hnsw_index(self.params.hnsw_m, self.params.hnsw_ef_construction))
            else:
                index.add_index(VECTOR, index_type="FLAT", metric_type="IP")
            client.create_collection(name, schema=schema, index_params=index)
        except IndexCorruptError:
            raise
        except Exception as exc:
            raise connection.unavailable(exc) from None

    @staticmethod
    def _fill(connection: _Connection, name: str, vectors: np.ndarray) -> None:
        client = connection.client
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        try:
            for start in range(0, len(rows), INSERT_ROWS):
                batch = rows[start : start + INSERT_ROWS]
                client.insert(
                    name,
                    [
                        {PRIMARY: start + i, VECTOR: vector}
                        for i, vector in enumerate(batch.tolist())
                    ],
                )
            client.flush(name)  # durable before the manifest names it
            client.load_collection(name)
            _wait_for_index(client, name, len(rows))
        except Exception as exc:
            raise connection.unavailable(exc) from None

    @staticmethod
    def _drop_orphans(connection: _Connection, index_dir: Path) -> None:
        """Drop this index's collections whose build folder is gone (a build killed before
        it could clean up); called under the index's build lock."""
        client = connection.client
        try:
            names = client.list_collections()
        except Exception as exc:
            raise connection.unavailable(exc) from None
        for name in names:
            build = _build_of(name, index_dir)
            if build is None:
                continue
            if (index_dir / build).is_dir() or (index_dir / f".{build}.partial").is_dir():
                continue
            log.debug("dropping %s: its build %s is gone", name, build)
            client.drop_collection(name)

    def load(self, folder: Path, described: dict[str, Any] | str | None) -> MilvusStore:
        """The collection the manifest names, checked to hold the build's vectors."""
        info = described if isinstance(described, dict) else {}
        name = info.get("collection")
        if not isinstance(name, str) or not name:
            raise IndexCorruptError(
                f"The manifest in {folder} names a Milvus store but no collection. {_REBUILD}"
            )
        uri = check_uri(str(info.get("uri", "")))
        connection = _connect(uri, self.params.token, folder.parent)
        try:
            client = connection.client
            try:
                present = client.has_collection(name)
            except Exception as exc:
                raise connection.unavailable(exc) from None
            if not present:
                raise IndexCorruptError(
                    f"The collection {name} that {folder}/manifest.json names is not in "
                    f"{connection.where}. {_REBUILD}"
                )
            try:
                client.load_collection(name)
                rows = int(client.get_collection_stats(name).get("row_count", -1))
            except Exception as exc:
                raise connection.unavailable(exc) from None
            expected = int(info.get("vectors", rows))
            if rows != expected:
                raise IndexCorruptError(
                    f"The collection {name} in {connection.where} holds {rows} vectors, the "
                    f"manifest in {folder} {expected}. {_REBUILD}"
                )
        except BaseException:
            connection.close()
            raise
        defaults = StoreParams()
        params = StoreParams(
            backend=BACKEND,
            hnsw_threshold=int(info.get("hnsw_threshold", defaults.hnsw_threshold)),
            hnsw_m=int(info.get("hnsw_m", defaults.hnsw_m)),
            hnsw_ef_construction=int(
                info.get("hnsw_ef_construction", defaults.hnsw_ef_construction)
            ),
            hnsw_ef_search=int(info.get("hnsw_ef_search", self.params.hnsw_ef_search)),
            uri=uri,
        )
        kind = str(info.get("kind", FLAT))
        dimension = int(info.get("dimension", 0))
        return MilvusStore(connection, name, kind, expected, dimension, uri, params)

    def drop(self, folder: Path, described: dict[str, Any]) -> None:
        """Drop the collection of a replaced or failed build (nothing if it is gone)."""
        name = described.get("collection")
        if not isinstance(name, str) or not name:
            return
        uri = check_uri(str(described.get("uri", "")))
        connection = _connect(uri, self.params.token, folder.parent)
        try:
            if connection.client.has_collection(name):
                connection.client.drop_collection(name)
        except Exception as exc:
            raise connection.unavailable(exc) from None
        finally:
            connection.close()
