"""Product metrics from an event log: active users, funnel, retention cohorts, MRR/ARR, churn and NRR.

Every number is computed in DuckDB by the queries in analytics/sql/metrics_*.sql. They read two temporary
views on the calling thread's cursor, which `prepare_source` (re)creates before each report:

- `metric_events`: the event log in the schema below (the sample `events` table, or a user's table mapped
  onto it with an `EventMapping`);
- `metric_accounts`: account_id, region, industry, company_size (the sample `accounts` table; all null for
  a mapped table, whose metrics therefore take no segment filters);
- `metric_users`: user_id, account_id (the sample `users` table; derived from the events when mapped);

and a temporary table `metric_scope` holding the account ids that pass the segment and plan filters.

Event schema (one row per event; user_id is null for account-level events):

    event_time  timestamp  when it happened (UTC)
    user_id     any        the user; null for upgrade, downgrade, cancel and invoice
    account_id  any        the customer account (company) the user belongs to
    event_type  varchar    signup, activation, session, upgrade, downgrade, cancel or invoice
    amount_usd  double     invoice amount in US dollars (monthly billing); null for other events
    plan        varchar    plan after an upgrade/downgrade, or billed by an invoice; else null

Definitions:

- Active users: rolling windows. DAU = distinct users with a session that day; WAU = in the 7 days ending
  that day; MAU = in the 28 days ending that day, each shown once its window is full (WAU from the 7th day
  of the source's events, MAU and stickiness from the 28th; `window_full` marks the day). Stickiness =
  DAU / MAU (the KPI card: mean DAU over the last 28 days of the range / MAU on its last day).
- Funnel, for users whose first sign-up is in the range: signed up -> activated (an activation event) ->
  active in week 2 (a session 7 to 14 days after sign-up) -> paying (their account has an invoice > 0).
  Steps are nested; later steps look at all events, so the range chooses the sign-up cohort.
- Retention: users by sign-up month x months since sign-up; the share with >= 1 session in that calendar
  month, counted through the range end.
- MRR: an account's latest invoice dated in the 31 days before the month's end (or the range end if
  earlier), so a monthly bill paid on the 31st still counts in a short February; ARR = 12 x MRR.
  New / expansion / contraction / churned MRR compare each account with the previous month.
- Logo churn = accounts paying last month and not this month / accounts paying last month. Revenue churn =
  (churned + contraction MRR) / last month's MRR. NRR (1 month) = this month's MRR from last month's payers /
  last month's MRR; NRR (12 months) the same against 12 months earlier.
- Plan filter: the plan on an account's latest upgrade, downgrade or invoice up to the range end ('free' when
  it has none).

Modules: `schema` (the event schema, its definitions, MetricFilters and EventMapping), `source` (the
temporary views a report reads, mapping checks, the data's span and filter values), `report` (the queries,
the KPI cards and `compute_report`, everything the Metrics page shows).
"""
