"""The Roadmap page's plan: stages from research to launch with dates, owners, people, compute and budget;
dependencies; risks (likelihood x impact); milestones; and budget lines linked to measured costs.

Stored in the roadmap_* tables (migration 010) and read by the queries analytics/sql/roadmap_*.sql.

- `plan`: the records (Stage, Risk, Milestone, BudgetLink, Plan), `load_plan`, pure edits, RoadmapInputError.
- `validate`: every check a plan passes before it is written, each refusal with what to change.
- `store`: `save_plan` (validate, then replace the tables in one transaction).
- `schedule`: the critical path, today's position, the stage table.
- `budget`: linked lines priced by the Compare machinery with their provenance, and the plan's totals.
"""
