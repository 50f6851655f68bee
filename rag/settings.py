"""One typed settings object. Precedence: defaults < config file < environment < CLI flags."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from rag.index.store import StoreParams

CONFIG_NAME = "rag.toml"
ENV_PREFIX = "RAG_"
EMBEDDERS = ("e5", "hash")
STORES = ("", "faiss", "milvus")


def default_home() -> Path:
    """Per-user folder for converted models and caches (overridden by RAG_HOME)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("sovereign-rag", appauthor=False))


# The lead (in the fused score's units: per-side standard deviations of the candidate pool)
# the top passage must have over the second for the model to read it alone first. Chosen on
# the dev sets (eval/RESULTS.md, fifth round): the gains held from 0.8 to 1.2, fell at 1.5.
ALONE_GAP = 1.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build it with `load_settings`, never by hand in library code."""

    home: Path = field(default_factory=default_home)
    corpus: Path = Path("corpus")
    index: Path = Path("index")
    top_k: int = 5
    # Passages the model reads for an answer: each costs prompt tokens, so time to first
    # token (4 measured p50 5.3 s on 2 cores, 5 measured 6.5 s).
    answer_k: int = 4
    # When the model cannot answer from those passages (or its answer fails the checks), read
    # the next answer_k passages once more before refusing. Off by default: with the default
    # model it answered 1 more question of 99 and 1 of 15 unanswerable ones (README).
    look_further: bool = False
    model: Path | None = None  # a GGUF; None means the default model under home
    embedder: str = "e5"  # "e5" (multilingual-e5-small) or "hash" (no model; weak)
    # Chunking: target characters per chunk (a Latin word counts two in a document mainly in
    # Latin script: rag.ingest.chunking) and sentences carried over between chunks.
    chunk_chars: int = 120
    chunk_overlap: int = 1
    # Index each chunk with its document's title and heading path (the model reads the chunk
    # without them). Off: on the dev and held-out sets it answered more English questions
    # right and refused fewer unanswerable ones, with no gain on Chinese documents
    # (eval/RESULTS.md, seventh round). Changing it re-embeds the index at the next `rag index`.
    index_headings: bool = False
    # Hybrid fusion: weight of the dense side in z-score linear fusion (0 = BM25 only).
    dense_weight: float = 0.5
    embed_batch: int = 32
    threads: int = 0  # 0 = all cores
    max_question_chars: int = 500
    # Answering: context window and answer length of the local model.
    n_ctx: int = 4096
    max_tokens: int = 256
    # Reading files: larger files are skipped; Tesseract languages for scanned PDF pages
    # ("" turns OCR off).
    max_file_mb: float = 50.0
    ocr_languages: str = "chi_tra+eng"
    # Vector store: exact search below this many chunks, HNSW from there on (see rag/store.py).
    hnsw_threshold: int = 20_000
    hnsw_ef_search: int = 256  # HNSW candidates per query: higher is better recall, slower
    # Named answer rules to switch off, comma-separated (rag.check.catalog lists them and
    # eval/RESULTS.md their measured effect); "" keeps all on.
    rules_off: str = ""
    # Rule top_passage_alone: how far the top passage's fused score must lead the second's
    # for the model to read it alone first (scripts/top_passage_sweep.py sweeps it).
    alone_gap: float = ALONE_GAP
    # Where a new index keeps its vectors: "faiss" (a file in the index folder) or "milvus"
    # (milvus_uri: a Milvus Lite file, by default in the index folder, or a server's
    # http(s)://host:19530 with milvus_token). An existing index is read with the store its
    # manifest names.
    store: str = ""  # "": the store the index uses already (FAISS for a new index)
    milvus_uri: str = ""
    milvus_token: str = ""
    # Answering on another machine: the API root of an OpenAI-compatible chat server
    # (http(s)://host:port/v1). Set, it replaces the local model, with no fallback to it.
    llm_url: str = ""
    llm_model: str = ""  # "" = the first model the server lists
    llm_api_key: str = ""  # sent as a Bearer token; never written anywhere

    def store_params(self) -> StoreParams:
        """The vector store's parameters, for `build_index`."""
        from rag.index.store import StoreParams

        return StoreParams(
            backend=self.store,
            hnsw_threshold=self.hnsw_threshold,
            hnsw_ef_search=self.hnsw_ef_search,
            uri=self.milvus_uri,
            token=self.milvus_token,
        )

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def extract_options(self) -> Any:
        """What `rag.ingest.extract` needs to know (an ExtractOptions)."""
        from rag.ingest.extract import ExtractOptions

        return ExtractOptions(int(self.max_file_mb * 1024 * 1024), self.ocr_languages)

    def validate(self) -> Settings:
        if self.embedder not in EMBEDDERS:
            raise ConfigError(
                f"embedder must be one of {', '.join(EMBEDDERS)}, got {self.embedder!r}."
            )
        from rag.check.catalog import RuleSet

        RuleSet.parse(self.rules_off)  # names an unknown rule: ConfigError
        if self.store not in STORES:
            raise ConfigError(f"store must be faiss or milvus, got {self.store!r}.")
        _check_url("milvus_uri", self.milvus_uri, "http(s)://host:19530, or a Milvus Lite path")
        _check_url("llm_url", self.llm_url, "http(s)://host:port/v1")
        if self.top_k < 1 or self.top_k > 100:
            raise ConfigError(f"top_k must be between 1 and 100, got {self.top_k}.")
        if self.answer_k < 1 or self.answer_k > 20:
            raise ConfigError(f"answer_k must be between 1 and 20, got {self.answer_k}.")
        if self.chunk_chars < 20:
            raise ConfigError(f"chunk_chars must be at least 20, got {self.chunk_chars}.")
        if self.chunk_overlap < 0:
            raise ConfigError(f"chunk_overlap must be 0 or more, got {self.chunk_overlap}.")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(f"dense_weight must be between 0 and 1, got {self.dense_weight}.")
        if self.max_file_mb <= 0:
            raise ConfigError(f"max_file_mb must be above 0, got {self.max_file_mb}.")
        if self.hnsw_threshold < 1:
            raise ConfigError(f"hnsw_threshold must be at least 1, got {self.hnsw_threshold}.")
        if self.hnsw_ef_search < 1:
            raise ConfigError(f"hnsw_ef_search must be at least 1, got {self.hnsw_ef_search}.")
        if self.alone_gap < 0:
            raise ConfigError(f"alone_gap must be 0 or more, got {self.alone_gap}.")
        if self.embed_batch < 1:
            raise ConfigError(f"embed_batch must be at least 1, got {self.embed_batch}.")
        return self


def _check_url(name: str, value: str, expected: str) -> None:
    """A URL setting, if it looks like one, names an http(s) host."""
    from urllib.parse import urlsplit

    if name == "milvus_uri" and "://" not in value:
        return  # a Milvus Lite path, or "" for the default
    if not value and name == "llm_url":
        return
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be {expected}, got {value!r}.")


def _coerce(name: str, raw: Any, where: str) -> Any:
    """Turn a config or environment value into the field's type, naming where it came from."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind in ("Path", "Path | None"):
            return None if raw in ("", None) else Path(str(raw)).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _boolean(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} = {raw!r} is not a valid {kind}.") from None
    return raw


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE + _FALSE:
        return word in _TRUE
    raise ValueError(raw)


def _config_file_values(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}. Fix or remove it.") from None
    known = {f.name for f in fields(Settings)}
    table = data.get("rag", data)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)} in {path}. Known: {', '.join(sorted(known))}."
        )
    values = {k: _coerce(k, v, str(path)) for k, v in table.items()}
    # Relative paths in a config file are relative to the file, not to the working directory.
    for key, value in values.items():
        if isinstance(value, Path) and not value.is_absolute():
            values[key] = path.resolve().parent / value
    return values


def find_config_file(env: dict[str, str]) -> Path | None:
    """RAG_CONFIG, else ./rag.toml, else rag.toml in the user's config dir."""
    if env.get("RAG_CONFIG"):
        path = Path(env["RAG_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"RAG_CONFIG points at {path}, which is not a file.")
        return path
    local = Path(CONFIG_NAME)
    if local.is_file():
        return local
    from platformdirs import user_config_dir

    user = Path(user_config_dir("sovereign-rag", appauthor=False)) / CONFIG_NAME
    return user if user.is_file() else None


def load_settings(
    overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Merge defaults, the config file, RAG_* environment variables and CLI overrides."""
    env = dict(os.environ) if env is None else env
    settings = Settings()
    config = find_config_file(env)
    if config is not None:
        log.debug("config file: %s", config.resolve())
        settings = replace(settings, **_config_file_values(config))
    from_env = {}
    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in env:
            from_env[f.name] = _coerce(f.name, env[key], f"environment variable {key}")
    settings = replace(settings, **from_env)
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    return replace(settings, **cli).validate()
