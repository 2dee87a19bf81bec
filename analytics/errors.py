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


class RunIngestError(AnalyticsError):
    """A run folder is malformed (unreadable JSON, a succeeded run without eval.json...); nothing was
    written."""


class RunNotFoundError(QueryError):
    """No ingested run with that id."""


class CostInputError(AnalyticsError, ValueError):
    """A price, volume or measurement that would make a misleading number; the message says which."""


class MetricsError(AnalyticsError):
    """Metrics cannot be computed for the given source or filters."""


class MetricsInputError(MetricsError, ValueError):
    """Filters or an event mapping are invalid; the message says what to change."""


class NoEventsError(MetricsError):
    """The source has no events in the chosen date range."""


class MarketError(AnalyticsError):
    """Market data or assumptions cannot be used; the message says what to change."""


class MappingError(MarketError, ValueError):
    """A column mapping names a missing table or column, or a non-numeric column where a number is needed."""


class AssumptionError(MarketError, ValueError):
    """A sizing assumption is out of range."""


class MemoError(AnalyticsError):
    """The memo cannot be written (bad path, no permission); the message says what to change."""


class SettingsError(AnalyticsError, ValueError):
    """A `STRATLAB_*` environment variable has a value that cannot be used (analytics.settings)."""


class BusinessCaseError(AnalyticsError, ValueError):
    """A business-case input that makes no sense (negative price, churn above 100%...), or a figure the
    workspace cannot supply; the message says what to change."""
