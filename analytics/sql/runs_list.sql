-- every ingested run, newest first, with the headline figures (json blobs left out)
select
    run_id, job_id, method, model, dataset, state, started_at, finished_at, train_seconds,
    hardware, device, accuracy, accuracy_ci_low, accuracy_ci_high, macro_f1, macro_f1_ci_low,
    macro_f1_ci_high, n_test, samples_per_s, peak_memory_bytes, error, ingested_at
from runs
order by finished_at desc, run_id
