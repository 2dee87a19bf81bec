"""Exception types of the analytics layer. Every message says what to change."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base class for every error raised by `analytics/`."""


class WorkspaceError(AnalyticsError):
    """The workspace database cannot be opened, migrated or written."""


class WorkspaceLockedError(WorkspaceError):
    """Another process holds the workspace database file."""


class MigrationError(WorkspaceError):
    """A schema migration failed; the workspace was left at the previous version."""


class QueryError(AnalyticsError):
    """A query failed; the message names the query and DuckDB's reason."""


class ForbiddenQueryError(QueryError):
    """The SQL explorer refused a statement (writes, file access, several statements...)."""


class QueryTimeoutError(QueryError):
    """A query ran past its time limit and was interrupted."""


class QueryMemoryError(QueryError):
    """A query needed more memory than its cap and was interrupted."""


class ImportValidationError(AnalyticsError):
    """An import failed validation; nothing was written. `problems` lists each finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [message])


class InvalidNameError(AnalyticsError):
    """A table or column name from user input is not acceptable."""


class SettingsError(AnalyticsError, ValueError):
    """A `STRATLAB_*` environment variable has a value that cannot be used (analytics.settings)."""
