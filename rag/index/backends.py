"""Choosing a vector store backend by name (the `store` setting, or the name a manifest
records); each backend's module is imported only when its store is used."""

from __future__ import annotations

from importlib import import_module

from rag.errors import ConfigError
from rag.index.store import StoreBackend, StoreParams

# backend name -> "module:class"
BACKENDS = {
    "faiss": "rag.index.faiss_store:FaissBackend",
    "milvus": "rag.index.milvus_store:MilvusBackend",
}


def store_backend(params: StoreParams) -> StoreBackend:
    """The backend `params.backend` names, with its parameters."""
    target = BACKENDS.get(params.backend)
    if target is None:
        raise ConfigError(f"store must be one of {', '.join(BACKENDS)}, got {params.backend!r}.")
    module, cls = target.split(":")
    try:
        found = import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"The {params.backend} store cannot load ({exc}). Reinstall with `pip install -e .`."
        ) from None
    backend: StoreBackend = getattr(found, cls)(params)
    return backend
