"""Leaf module: the search core's errors. Each message names the file or parameter and the fix."""
from __future__ import annotations


class SearchError(Exception):
    """Base class of every error the search core raises on purpose."""


class CorpusError(SearchError):
    """The corpus export is missing, unreadable or of another schema version."""


class IndexIntegrityError(SearchError):
    """A published index build failed verification (manifest, checksum, model or dimension)."""


class NoIndexError(SearchError):
    """No valid published index build exists yet."""


class QueryError(SearchError):
    """A query parameter is invalid (the message names it)."""
