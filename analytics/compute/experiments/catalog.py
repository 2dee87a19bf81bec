"""The experiments stored in the workspace (the `experiments` table) and the plans their analyses use."""

from __future__ import annotations

import pandas as pd

from analytics.compute.experiments.analysis import AnalysisPlan
from analytics.compute.experiments.design import DesignInput
from analytics.compute.experiments.errors import ExperimentInputError
from analytics.db import Workspace


def list_experiments(ws: Workspace) -> pd.DataFrame:
    """Every stored experiment with its plan, newest first (experiment_list.sql)."""
    return ws.query("experiment_list")


def stored_plan(ws: Workspace, experiment: str) -> tuple[AnalysisPlan, DesignInput, pd.Series]:
    """The analysis plan and the design inputs recorded for `experiment`, and its row.

    Raises:
        ExperimentInputError: no such experiment (the message lists those stored).
    """
    frame = list_experiments(ws)
    match = frame[frame["experiment"] == experiment]
    if match.empty:
        raise ExperimentInputError(f"no experiment {experiment!r}; stored: "
                                   f"{', '.join(frame['experiment']) or 'none'}")
    row = match.iloc[0]
    plan = AnalysisPlan(control=row["control_variant"], treatment=row["treatment_variant"],
                        treatment_share=float(row["treatment_share"]),
                        planned_control_units=int(row["planned_per_variant"]), alpha=float(row["alpha"]))
    design = DesignInput(baseline_rate=float(row["baseline_rate"]), mde=float(row["mde_absolute"]),
                         power=float(row["power"]), alpha=float(row["alpha"]),
                         treatment_share=float(row["treatment_share"]))
    return plan, design, row
