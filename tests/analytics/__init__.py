"""Tests of analytics/: the workspace, ingest, compute, charts, report, CLI."""
