"""Churn on the workspace's own data: per-account features in DuckDB, the feature folder models train on,
and the results of ingested churn runs.

- `features`: `ChurnRequest` (cut-off day, horizon), the data's span and the refusals (a cut-off with no
  later data, before any account, a horizon past the data), the features of analytics/sql/churn_features.sql
  at a cut-off (train, with the label) and at the data's last day (score, with MRR), and
  `write_feature_folder` (train.parquet, score.parquet, features.json; written to a temporary folder, then
  renamed). The folder's contract is models.training.churn's input (see the churn contract in the README).
- `results`: what the Churn page shows for one feature set: the models side by side (ROC-AUC, PR-AUC with
  their 95% CIs), calibration, the accounts most at risk with MRR at risk, the features that drive the score
  (permutation importance), and `expected_churn` for the Business case page.

Definitions (all whole UTC days):

- The cut-off day is seen entirely: features read events before cut-off + 1 day. Label: a cancel event in
  (cut-off, cut-off + horizon]. Eligible accounts signed up on or before the cut-off and have no cancel on
  or before it.
- Score set: the same features at the data's last day (its newest event's day) for every account active then,
  with its MRR (latest invoice in the 31 days before that day's end, as on the Metrics page).
"""
