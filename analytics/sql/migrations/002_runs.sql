-- 002: training runs ingested from run folders (models/runs.py layout), exactly once per finished attempt.
-- A run enters when its status.json exists; every row of a run is written in one transaction.
create table runs (
    run_id varchar primary key,
    job_id varchar,
    method varchar not null,
    model varchar not null,
    dataset varchar not null,
    state varchar not null check (state in ('succeeded', 'failed', 'cancelled')),
    started_at timestamp,
    finished_at timestamp not null,
    train_seconds double check (train_seconds >= 0),
    hardware varchar,
    device varchar,
    accuracy double check (accuracy between 0 and 1),
    accuracy_ci_low double,
    accuracy_ci_high double,
    macro_f1 double check (macro_f1 between 0 and 1),
    macro_f1_ci_low double,
    macro_f1_ci_high double,
    n_test integer check (n_test >= 0),
    samples_per_s double check (samples_per_s >= 0),
    peak_memory_bytes bigint,
    error varchar,
    config_json varchar not null,
    environment_json varchar,
    eval_json varchar,
    ingested_at timestamp not null
);

-- One row per validation pass at an epoch end (the last one when a resumed run logged an epoch twice).
create table run_epochs (
    run_id varchar not null,
    epoch integer not null check (epoch >= 1),
    step integer,
    train_loss double,
    val_loss double,
    val_accuracy double,
    val_macro_f1 double,
    improved boolean,
    primary key (run_id, epoch)
);

-- Per-example test predictions: cascades and error analysis need no re-run.
create table run_predictions (
    run_id varchar not null,
    text_id varchar not null,
    true_label varchar not null,
    pred_label varchar not null,
    confidence double check (confidence between 0 and 1),
    correct boolean not null,
    probs double[],
    primary key (run_id, text_id)
);
