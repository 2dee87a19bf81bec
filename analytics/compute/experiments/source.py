"""Where an analysis reads its units: the sample `experiment_assignments` table, or a user's imported table
mapped onto unit / variant / assigned_at / converted (/ converted_at) with the Metrics page's mapping checks.

`prepare_units` (re)creates two temporary tables on this thread's cursor:

- `experiment_raw`: one row per source row, columns unit, variant (text), assigned_at, converted_at
  (timestamps), converted_text (the conversion value as text) and converted_value (1, 0, or null when the text
  is not one of 1 / 0 / true / false);
- `experiment_units`: one row per unit: its variant, first assignment, converted = 1 if any of its rows
  converted, first conversion time;

after refusing, with what to change, the data an analysis cannot use (experiment_checks.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from analytics.compute.experiments.errors import ExperimentInputError
from analytics.compute.metrics.source import TIME_TYPES, distinct_values, user_table_types
from analytics.db import Workspace, quote_ident, read_sql, validate_name
from analytics.errors import InvalidNameError, MetricsInputError

SAMPLE_CHOICE = "Sample experiment"
"""What the page calls the sample source (named in refusals of app tables)."""


@dataclass(frozen=True)
class ExperimentMapping:
    """How a user's table (one row per unit, or per exposure of a unit) maps onto an experiment."""

    table: str
    """The source table in the workspace (imported on the Data page)."""
    unit: str
    """Column identifying the randomised unit (a user, an account, a session)."""
    variant: str
    """Column holding the variant each unit saw (e.g. 'control', 'B')."""
    assigned_at: str
    """Column holding when the unit was assigned (TIMESTAMP or DATE)."""
    converted: str
    """Column holding whether the unit converted: 0/1, true/false."""
    converted_at: str | None = None
    """Optional column holding when it converted (TIMESTAMP or DATE); checked to come after assigned_at."""

    def __post_init__(self) -> None:
        try:
            validate_name(self.table, "table")
        except InvalidNameError as e:
            raise ExperimentInputError(str(e)) from e
        for name in ("unit", "variant", "assigned_at", "converted", "converted_at"):
            column = getattr(self, name)
            if column is None and name == "converted_at":
                continue
            if not isinstance(column, str) or not column.strip() or len(column) > 255:
                raise ExperimentInputError(f"{name}: choose a column of table {self.table!r}")

    def columns(self) -> dict[str, str]:
        """Role -> source column, for the roles that are mapped."""
        out = {"unit": self.unit, "variant": self.variant, "assigned_at": self.assigned_at,
               "converted": self.converted, "converted_at": self.converted_at}
        return {k: v for k, v in out.items() if v is not None}


Source = str | ExperimentMapping
"""An experiment id in `experiment_assignments`, or a mapped user table."""


def validate_mapping(ws: Workspace, mapping: ExperimentMapping) -> None:
    """Check that the mapped table and columns exist and that the time columns are times.

    Raises:
        ExperimentInputError: listing every problem and how to fix it.
    """
    try:
        types = user_table_types(ws, mapping.table, SAMPLE_CHOICE)
    except MetricsInputError as e:
        raise ExperimentInputError(str(e)) from e
    problems = []
    for role, column in mapping.columns().items():
        if column not in types:
            problems.append(f"{role}: table {mapping.table!r} has no column {column!r}; its columns are: "
                            f"{', '.join(types)}")
        elif role in ("assigned_at", "converted_at") and types[column].upper() not in TIME_TYPES:
            problems.append(f"{role}: column {column!r} is {types[column]}, not a timestamp or date; pick "
                            f"another column or re-import the file so the column is read as a date")
    if len({mapping.unit, mapping.variant, mapping.converted}) < 3:
        problems.append("unit, variant and converted must be three different columns")
    if problems:
        raise ExperimentInputError("; ".join(problems))


def mapped_values(ws: Workspace, mapping: ExperimentMapping, column: str, limit: int = 50) -> list[str]:
    """The most common values of one mapped column as text (the Metrics mapping's `distinct_values`).

    Raises:
        ExperimentInputError: no such table or column.
    """
    try:
        return distinct_values(ws, mapping.table, column, limit)
    except MetricsInputError as e:
        raise ExperimentInputError(str(e)) from e


def prepare_units(ws: Workspace, source: Source, start: date | None = None, end: date | None = None) -> str:
    """(Re)create experiment_raw and experiment_units for `source`, units assigned from `start` to `end`
    (inclusive days; None = no bound). Returns the source's provenance text.

    Raises:
        ExperimentInputError: a bad mapping; nulls in the unit, variant or assignment time; conversion values
            that are not 0/1; conversions before assignment; a unit in two variants; no units at all.
    """
    window = {"start": start, "end": end}
    if isinstance(source, ExperimentMapping):
        validate_mapping(ws, source)
        ws.rows("create or replace temp table experiment_raw as " + _mapped_select(source), window)
        where = f"table {source.table} (your import)"
    else:
        ws.rows("create or replace temp table experiment_raw as " + read_sql("experiment_sample_raw"),
                {**window, "experiment": source})
        where = f"table experiment_assignments, experiment {source!r}"
    check_raw(ws.query("experiment_checks").iloc[0].to_dict(), where, start, end)
    ws.rows("create or replace temp table experiment_units as " + read_sql("experiment_units"))
    return where


def _mapped_select(mapping: ExperimentMapping) -> str:
    """The select of experiment_raw over a mapped table (identifiers validated and quoted, window bound)."""
    q = quote_ident
    converted_at = (f"cast(s.{q(mapping.converted_at)} as timestamp)" if mapping.converted_at
                    else "cast(null as timestamp)")
    text = f"lower(trim(cast(s.{q(mapping.converted)} as varchar)))"
    return (
        f"select cast(s.{q(mapping.unit)} as varchar) as unit, "
        f"cast(s.{q(mapping.variant)} as varchar) as variant, "
        f"cast(s.{q(mapping.assigned_at)} as timestamp) as assigned_at, {converted_at} as converted_at, "
        f"cast(s.{q(mapping.converted)} as varchar) as converted_text, "
        f"case when {text} in ('1', '1.0', 'true') then 1 when {text} in ('0', '0.0', 'false') then 0 end "
        f"as converted_value "
        f"from main.{q(mapping.table)} as s "
        f"where ($start is null or s.{q(mapping.assigned_at)} >= $start) "
        f"and ($end is null or s.{q(mapping.assigned_at)} < cast($end as date) + 1)"
    )


def check_raw(found: dict[str, Any], where: str, start: date | None, end: date | None) -> None:
    """Refuse what experiment_checks.sql found (one row of counts) with what to change.

    Raises:
        ExperimentInputError: every problem found, joined.
    """
    if int(found["source_rows"]) == 0:
        window = f" assigned between {start or 'the start'} and {end or 'the end'}" if start or end else ""
        raise ExperimentInputError(f"{where} has no rows{window}; widen the dates or pick another table")
    problems = []
    for key, what in (("null_units", "no unit id"), ("null_variants", "no variant"),
                      ("null_assigned", "no assignment time")):
        if int(found[key]):
            problems.append(f"{int(found[key]):,} rows have {what}; fill it in or drop those rows")
    if int(found["bad_converted"]):
        examples = found["bad_examples"]
        shown = ", ".join(repr(str(v)) for v in ([] if examples is None else list(examples))) or "empty cells"
        problems.append(f"the conversion column must hold 0 or 1 (or true/false) in every row; "
                        f"{int(found['bad_converted']):,} rows hold something else ({shown}): map a 0/1 "
                        f"column or recode it")
    if int(found["converted_before_assigned"]):
        problems.append(f"dates out of order: {int(found['converted_before_assigned']):,} rows convert "
                        f"before they were assigned (e.g. unit {found['example_unit']!r}); fix the times or "
                        f"map the right columns")
    if int(found["units_in_two_variants"]):
        problems.append(f"{int(found['units_in_two_variants']):,} units appear in more than one variant "
                        f"(e.g. unit {found['example_switcher']!r}): each unit must see one variant only")
    if problems:
        raise ExperimentInputError(f"{where}: " + "; ".join(problems))


def daily_units(ws: Workspace) -> pd.DataFrame:
    """Units assigned per day of experiment_units (day, units; days in between without any count 0)."""
    return ws.query("experiment_daily_units")


def assignment_span(ws: Workspace, source: Source) -> tuple[date, date] | None:
    """First and last assignment day of `source`, or None when it has no assignments.

    Raises:
        ExperimentInputError: a bad mapping.
    """
    if isinstance(source, ExperimentMapping):
        validate_mapping(ws, source)
        col, table = quote_ident(source.assigned_at), quote_ident(source.table)
        first, last = ws.rows(f"select min({col}), max({col}) from main.{table}")[0]
    else:
        first, last = ws.rows("select min(assigned_at), max(assigned_at) from main.experiment_assignments "
                              "where experiment = $experiment", {"experiment": source})[0]
    if first is None or last is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()
