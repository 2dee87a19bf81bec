-- 009: serving records (a run folder's serving.json, written by `python -m models loadtest`): one row per
-- concurrency level of each load test, so Compare can price a self-hosted candidate from the throughput a real
-- server reached under load at a chosen concurrency, next to the in-process benchmark (inference.json).
-- The run's rows are replaced whenever its serving.json is rewritten with a newer record (file_mtime).
create table serving_levels (
    run_id varchar not null,
    measured_at timestamp not null,
    base_url varchar,
    model varchar,
    server varchar,
    hardware varchar,
    threads integer,
    continuous_batching boolean,
    max_batch_size integer,
    duration_s double,
    concurrency integer not null check (concurrency >= 1),
    requests integer check (requests is null or requests >= 0),
    errors integer check (errors is null or errors >= 0),
    error_rate double check (error_rate is null or error_rate between 0 and 1),
    p50_ms double,
    p95_ms double,
    p99_ms double,
    requests_per_s double check (requests_per_s is null or requests_per_s >= 0),
    tokens_per_s double check (tokens_per_s is null or tokens_per_s >= 0),
    prompt_tokens_mean double,
    completion_tokens_mean double,
    file_mtime double not null,
    primary key (run_id, measured_at, concurrency)
);
