-- 004: measured inference per run (from the run folder's inference.json) and hosted-API candidates.

-- Inference measured right after training on the machine that trained (models/inference_record.py).
alter table runs add column p50_ms double;            -- single-request latency, median, ms
alter table runs add column p95_ms double;            -- single-request latency, 95th percentile, ms
alter table runs add column throughput_per_s double;  -- batched requests per second on the test texts
alter table runs add column inference_hardware varchar;
alter table runs add column inference_measured_at timestamp;
alter table runs add column model_params bigint;      -- parameters of the served model (projections)
alter table runs add column tokens_per_request double;  -- mean model tokens per test text (projections)
alter table runs add column api_input_tokens double;  -- mean tokens of an API classification prompt per test text
alter table runs add column api_output_tokens double; -- mean tokens of the answer (a label name)
alter table runs add column api_tokenizer varchar;    -- tokenizer that counted them

-- Hosted LLM APIs as candidates on one evaluation set: accuracy entered with its source, or computed from an
-- imported predictions file matched to a run's test set (then accuracy_source is the file name).
create table api_candidates (
    candidate_id integer primary key,
    name varchar not null,
    dataset varchar not null,
    price_id integer not null references prices (price_id),
    accuracy double not null check (accuracy between 0 and 1),
    macro_f1 double check (macro_f1 is null or macro_f1 between 0 and 1),
    n_eval integer not null check (n_eval > 0),
    accuracy_source varchar not null check (length(trim(accuracy_source)) > 0),
    input_tokens_per_request double check (input_tokens_per_request is null or input_tokens_per_request > 0),
    output_tokens_per_request double check (output_tokens_per_request is null or output_tokens_per_request >= 0),
    matched_run_id varchar,
    entered_at timestamp not null,
    unique (dataset, name)
);

-- Per-example predictions of an API candidate (imported), aligned to a run's test set by text_id.
create table api_predictions (
    candidate_id integer not null,
    text_id varchar not null,
    true_label varchar not null,
    pred_label varchar not null,
    correct boolean not null,
    primary key (candidate_id, text_id)
);
