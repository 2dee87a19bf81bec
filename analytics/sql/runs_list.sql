-- every ingested run, newest first, with the headline figures (json blobs left out; a generation run's
-- ROUGE-L from run_generation_eval)
select
    run_id, job_id, method, model, dataset, state, started_at, finished_at, train_seconds,
    hardware, device, accuracy, accuracy_ci_low, accuracy_ci_high, macro_f1, macro_f1_ci_low,
    macro_f1_ci_high, n_test, samples_per_s, peak_memory_bytes, error, ingested_at,
    (select g.rouge_l from run_generation_eval g where g.run_id = runs.run_id) as rouge_l
from runs
order by finished_at desc, run_id
