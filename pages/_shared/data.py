"""Cached calls of the Data page: import plans of uploads, table profiles and previews."""

from __future__ import annotations

import streamlit as st

from pages._shared.workspace import workspace


@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def import_plan(name: str, data: bytes, encoding: str | None, delimiter: str | None,
                has_header: bool | None, sheet: str | None):
    """`importer.sniff_file` for an upload, cached per content and overrides (errors are not cached)."""
    from analytics.ingest.importer import sniff_file

    return sniff_file(name, data, encoding=encoding, delimiter=delimiter, has_header=has_header, sheet=sheet)


@st.cache_data(show_spinner="Profiling the table...")
def table_profile(gen: int, table: str):
    """Per-column profile of `table` (see `importer.table_profile`)."""
    from analytics.ingest.importer import table_profile as profile

    return profile(workspace(), table)


@st.cache_data(show_spinner=False)
def table_preview(gen: int, table: str, limit: int = 100):
    """The first `limit` rows of `table`."""
    return workspace().preview(table, limit)
