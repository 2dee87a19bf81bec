-- one generation run: its runs row (without the JSON documents) and its run_generation_eval metrics
select
    r.run_id, r.method, r.model, r.dataset, r.state, r.started_at, r.finished_at, r.train_seconds,
    r.hardware, r.device,
    g.* exclude (run_id)
from runs r
join run_generation_eval g using (run_id)
where r.run_id = $run_id
