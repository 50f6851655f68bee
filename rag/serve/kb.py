"""Knowledge bases: named folders of documents, each with its own index, kept under the user
data folder (settings.home / "kb" / NAME / documents and index), beside the default index
(settings.corpus and settings.index, named "default"). `rag kb ...`, `rag ask --kb` and the
server all use these calls; the default index is read-only here (it is built from the user's
own folder with `rag index`)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from rag.errors import ConfigError, CorpusError, NotFoundError
from rag.index.load import current_build
from rag.ingest.documents import iter_corpus_files
from rag.ingest.extract import SUFFIXES
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.embed.embedder import Embedder
    from rag.index.build import BuildReport

DEFAULT = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
# Characters a stored file name may not hold: path separators, controls, and what Windows
# forbids (the folder may be copied there).
_BAD_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class KnowledgeBase:
    """A named index and the folder its documents are read from."""

    name: str
    documents: Path
    index: Path
    writable: bool  # documents can be added and removed through rag (not the default)

    def settings(self, settings: Settings) -> Settings:
        """The settings with this knowledge base's folders as corpus and index."""
        return replace(settings, corpus=self.documents, index=self.index)

    def files(self) -> list[str]:
        """Its documents, as paths relative to its folder (what citations name)."""
        if not self.documents.is_dir():
            return []
        return [p.relative_to(self.documents).as_posix() for p in iter_corpus_files(self.documents)]

    @property
    def indexed(self) -> bool:
        return current_build(self.index) is not None


def kb_root(settings: Settings) -> Path:
    return settings.home / "kb"


def check_name(name: str) -> str:
    """A usable knowledge base name, or a ConfigError that says what names look like."""
    if not _NAME.fullmatch(name or ""):
        raise ConfigError(
            f"{name!r} is not a usable knowledge base name: use 1-63 letters, digits, '-' or "
            "'_', starting with a letter or digit (e.g. 'contracts-2026')."
        )
    return name


def _default(settings: Settings) -> KnowledgeBase:
    return KnowledgeBase(DEFAULT, settings.corpus, settings.index, writable=False)


def _named(settings: Settings, name: str) -> KnowledgeBase:
    folder = kb_root(settings) / name
    return KnowledgeBase(name, folder / "documents", folder / "index", writable=True)


def list_kbs(settings: Settings) -> list[KnowledgeBase]:
    """The default index first, then the named knowledge bases in name order."""
    found = [_default(settings)]
    root = kb_root(settings)
    if root.is_dir():
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))
        found += [_named(settings, n) for n in names if n != DEFAULT]
    return found


def get_kb(settings: Settings, name: str) -> KnowledgeBase:
    """The knowledge base of this name; NotFoundError naming the ones there are."""
    if name == DEFAULT:
        return _default(settings)
    if _NAME.fullmatch(name or "") and (kb_root(settings) / name).is_dir():
        return _named(settings, name)
    known = ", ".join(kb.name for kb in list_kbs(settings))
    raise NotFoundError(
        f"No knowledge base named {name!r} (there are: {known}). Create it with "
        f"`rag kb create {name}` or POST /v1/knowledge_bases."
    )


def create_kb(settings: Settings, name: str) -> KnowledgeBase:
    """Make a new, empty knowledge base."""
    check_name(name)
    if name == DEFAULT:
        raise ConfigError(f"{DEFAULT!r} names the default index; choose another name.")
    kb = _named(settings, name)
    if kb.documents.parent.exists():
        raise ConfigError(f"Knowledge base {name!r} already exists ({kb.documents.parent}).")
    try:
        kb.documents.mkdir(parents=True)
        kb.index.mkdir()
    except OSError as exc:
        raise ConfigError(f"Cannot create {kb.documents.parent} ({exc}).") from None
    return kb


def _writable(kb: KnowledgeBase) -> None:
    if not kb.writable:
        raise ConfigError(
            f"The default index is built from {kb.documents} with `rag index`; add documents "
            "to a knowledge base instead (rag kb create NAME, rag kb add NAME FILES)."
        )


def stored_name(name: str) -> str:
    """The file name a document is stored under (its base name), or ValueError saying why
    it cannot be stored."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    if not base or base in (".", ".."):
        raise ValueError("no file name")
    if base.startswith("."):
        raise ValueError("hidden file names (starting with '.') are not indexed")
    if _BAD_NAME_CHARS.search(base) or len(base.encode("utf-8")) > 200:
        raise ValueError("the name has control or path characters, or is too long")
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"unsupported file type '{suffix or '(none)'}'; supported: {', '.join(SUFFIXES)}"
        )
    return base


def size_problem(size: int, settings: Settings) -> str | None:
    """Why a file of `size` bytes is not accepted (over max_file_mb), or None."""
    limit = int(settings.max_file_mb * 1024 * 1024)
    if size > limit:
        return (
            f"{size / 1048576:.1f} MB is over the {settings.max_file_mb:g} MB limit (max_file_mb)"
        )
    return None


def save_document(kb: KnowledgeBase, name: str, data: BinaryIO) -> str:
    """Store a document under its base name (replacing one of that name), atomically: a
    build running meanwhile sees the old file or the new one, never a part. Returns the
    name it is stored and cited under."""
    _writable(kb)
    base = stored_name(name)
    kb.documents.mkdir(parents=True, exist_ok=True)
    # Hidden while written: corpus reading skips names starting with '.'.
    partial = kb.documents / f".{secrets.token_hex(6)}.partial"
    try:
        with partial.open("wb") as fh:
            shutil.copyfileobj(data, fh, _COPY_BLOCK)
        os.replace(partial, kb.documents / base)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"Cannot store {base} in {kb.documents} ({exc}).") from None
    return base


def add_files(
    settings: Settings, kb: KnowledgeBase, paths: list[Path]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Copy files into a knowledge base: the names stored, and (file, reason) for each one
    that was not."""
    _writable(kb)
    added: list[str] = []
    rejected: list[tuple[str, str]] = []
    for path in paths:
        try:
            stored_name(path.name)
            if not path.is_file():
                raise ValueError("not a file")
            problem = size_problem(path.stat().st_size, settings)
            if problem:
                raise ValueError(problem)
            with path.open("rb") as fh:
                added.append(save_document(kb, path.name, fh))
        except (ValueError, OSError) as exc:
            rejected.append((str(path), str(exc)))
    return added, rejected


def remove_document(kb: KnowledgeBase, name: str) -> str:
    """Delete a document (named as its citations name it) from a knowledge base."""
    _writable(kb)
    if name not in kb.files():
        listed = ", ".join(kb.files()[:10]) or "none"
        raise NotFoundError(f"No document {name!r} in knowledge base {kb.name!r} (has: {listed}).")
    (kb.documents / name).unlink()
    return name


def clear_index(kb: KnowledgeBase) -> None:
    """Remove a knowledge base's index (it has no documents left)."""
    _writable(kb)
    if kb.index.is_dir():
        shutil.rmtree(kb.index)
    kb.index.mkdir(parents=True, exist_ok=True)


def reindex(
    settings: Settings,
    kb: KnowledgeBase,
    *,
    progress: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
) -> BuildReport | None:
    """Bring a knowledge base's index up to date with its folder (only changed documents are
    read and embedded again); None when it has no documents left and its index was removed."""
    from rag.pipeline import index_folder

    if kb.writable and not kb.files():
        clear_index(kb)
        return None
    try:
        return index_folder(
            kb.settings(settings),
            progress=progress,
            notice=notice,
            embedder=embedder,
        )
    except CorpusError:
        if kb.writable and not kb.files():  # emptied while the build read the folder
            clear_index(kb)
            return None
        raise
