"""Errors a user can cause or fix. Every message says what, where, and what to do next."""

from __future__ import annotations


class RagError(Exception):
    """Base class: the CLI prints the message and exits with `exit_code`."""

    exit_code = 1


class ConfigError(RagError):
    """A setting, flag or config file value is invalid."""

    exit_code = 2


class EvalFileError(ConfigError):
    """An eval file, saved run or dataset file cannot be used (a data error, not a usage one)."""

    exit_code = 1


class CorpusError(RagError):
    """The corpus folder is missing or holds nothing readable."""


class IndexMissingError(RagError):
    """No index at the given place."""


class IndexMismatchError(RagError):
    """The index was built with other models, parameters or format version."""


class IndexCorruptError(RagError):
    """An index file cannot be read."""


class IndexWriteError(RagError):
    """The index folder cannot be written (not a folder, permissions, disk full)."""


class IndexLockedError(RagError):
    """Another process is writing the index."""


class StoreUnavailableError(RagError):
    """The vector database the index names cannot be reached or refuses a request."""


class ModelError(RagError):
    """A model is missing, incomplete, or not what it claims to be."""


class QueryError(RagError):
    """The question cannot be used as given."""


class NotFoundError(RagError):
    """A named knowledge base, document or passage does not exist."""
