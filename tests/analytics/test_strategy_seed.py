"""The sample workspace carries the Strategy pages' samples (roadmap, finished experiment); a sample workspace
made before they existed gets them once when it is opened, and a user's own roadmap is never replaced."""

from __future__ import annotations

import shutil


def test_sample_workspaces_get_the_strategy_samples_once(template_workspace, tmp_path) -> None:
    from analytics.db import Workspace

    path = tmp_path / "old.duckdb"
    shutil.copy(template_workspace, path)
    ws = Workspace.open(path)
    try:
        assert ws.meta("strategy_seeded") is not None
        stages = ws.scalar("select count(*) from roadmap_stages where is_sample")
        units = ws.scalar("select count(*) from experiment_assignments")
        assert stages >= 5 and units > 0
        # as if it had been created before the Strategy pages: no samples, no mark
        with ws.transaction() as tx:
            for table in ("roadmap_risks", "roadmap_milestones", "roadmap_budget_links",
                          "roadmap_dependencies", "roadmap_stages", "experiment_assignments", "experiments"):
                if ws.has_table(table):
                    tx.execute(f"delete from {table}")  # noqa: S608 - fixed table names
            tx.execute("delete from workspace_meta where key = 'strategy_seeded'")
    finally:
        ws.close()
    ws = Workspace.open(path)
    try:
        assert ws.scalar("select count(*) from roadmap_stages where is_sample") == stages
        assert ws.scalar("select count(*) from experiment_assignments") == units
    finally:
        ws.close()
