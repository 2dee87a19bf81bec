-- succeeded runs a user can try in the Playground, newest first, with their measured inference speed
select
    run_id, method, model, dataset, accuracy, n_test, finished_at,
    p50_ms, throughput_per_s, inference_hardware, hardware,
    json_extract_string(config_json, '$.runs_dir') as runs_dir
from runs
where state = 'succeeded'
order by finished_at desc, run_id
