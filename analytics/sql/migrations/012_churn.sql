-- 012: churn runs (methods churn_logreg, churn_gbm, churn_mlp; task 'tabular'): the run row itself goes to
-- runs like any run (analytics.ingest.runs); analytics.ingest.churn_runs adds, once per succeeded churn run,
-- what the Churn and Business case pages need beyond eval.json: the feature set it was trained on and the
-- churn probability it gives every account active on the score day, with that account's MRR.
create table churn_runs (
    run_id varchar primary key,
    dataset varchar not null,
    cutoff date,                    -- the train set's cut-off day (eval.json / features.json)
    horizon_days integer check (horizon_days is null or horizon_days > 0),
    score_cutoff date,              -- the day the scored accounts were active on (the data's last day)
    n_scored integer not null check (n_scored >= 0),
    scored_mrr_usd double not null check (scored_mrr_usd >= 0),
    ingested_at timestamp not null
);

-- One row per scored account of a churn run (its scores.parquet).
create table churn_scores (
    run_id varchar not null,
    account_id bigint not null,
    score double not null check (score between 0 and 1),  -- probability of a cancel within the horizon
    mrr_usd double not null check (mrr_usd >= 0),         -- the account's MRR on the score day
    primary key (run_id, account_id)
);
